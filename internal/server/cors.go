package server

import (
	"net/http"
	"path"
	"strings"
)

// corsMethods are the methods a cross-origin request may use.
var corsMethods = map[string]bool{http.MethodGet: true, http.MethodPost: true, http.MethodHead: true, http.MethodDelete: true}

// cors allows any origin on Twirp and /rtc, as LiveKit does: browsers may call them
// directly, and every call carries a bearer token. Preflight requests are answered here
// and cached for a day.
//
// The REST gateway (/livekit/) is left to its own policy (rest.cors_origins, see
// internal/api/rest/origin.go): it has an open mode that needs no token.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || isREST(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		reqMethod := r.Header.Get("Access-Control-Request-Method")
		if r.Method == http.MethodOptions && reqMethod != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !corsMethods[strings.ToUpper(reqMethod)] {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", strings.ToUpper(reqMethod))
			if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
				h.Set("Access-Control-Allow-Headers", reqHeaders)
			}
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		next.ServeHTTP(w, r)
	})
}

// isREST reports whether a request path is the REST gateway's, as the mux will route
// it once cleaned.
func isREST(p string) bool {
	p = path.Clean("/" + p)
	return p == "/livekit" || strings.HasPrefix(p, "/livekit/")
}

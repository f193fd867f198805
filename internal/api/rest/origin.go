package rest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/usher-rtc/usher/internal/apierr"
)

// The gateway's browser policy. Its open mode (no token needed) and its tenant tokens
// make LiveKit's any-origin CORS unsafe here, so:
//
//   - A request with an Origin header must come from an origin in Options.CORSOrigins,
//     or from this server itself (the Origin's host is the request's Host). Any other
//     is refused with 403 ORIGIN_NOT_ALLOWED before anything runs: leaving out the
//     CORS headers alone would still let a "simple" cross-origin POST (text/plain, a
//     form) execute. "*" allows every origin, and only with Options.AuthRequired.
//   - A request that runs without a token (open mode) must be addressed to this
//     server by a name a web page cannot take over: an IP literal, localhost, or the
//     host of Options.LiveKitURL or of an allowed origin. Any other Host is refused
//     with 403 HOST_NOT_ALLOWED, which defeats DNS rebinding (a page whose name is made
//     to resolve to this server is same-origin with it, as far as the browser knows).
//
// Requests without an Origin (backends, curl) are not affected by the first rule.

// corsPolicy is the parsed form of the browser policy.
type corsPolicy struct {
	anyOrigin bool
	origins   map[string]bool // normalised "scheme://host:port"
	hosts     map[string]bool // host names (lower case) trusted as this server's
}

func newCORSPolicy(origins []string, liveKitURL string, authRequired bool) (corsPolicy, []string) {
	p := corsPolicy{origins: map[string]bool{}, hosts: map[string]bool{}}
	var warnings []string
	for _, o := range origins {
		if o == "*" {
			if !authRequired {
				warnings = append(warnings, `rest.cors_origins "*" is ignored: it needs rest.auth_required`)
				continue
			}
			p.anyOrigin = true
			continue
		}
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || u.Host == "" {
			warnings = append(warnings, fmt.Sprintf("rest.cors_origins %q is not an origin; ignored", o))
			continue
		}
		p.origins[normalOrigin(u)] = true
		p.hosts[strings.ToLower(u.Hostname())] = true
	}
	if u, err := url.Parse(liveKitURL); err == nil && u.Hostname() != "" {
		p.hosts[strings.ToLower(u.Hostname())] = true
	}
	return p, warnings
}

// normalOrigin is an origin as "scheme://host:port", lower case, with the port made
// explicit, so "https://App.example.com" and "https://app.example.com:443" are equal.
func normalOrigin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), portOr(u.Port(), scheme))
}

func portOr(port, scheme string) string {
	if port != "" {
		return port
	}
	switch scheme {
	case "https", "wss":
		return "443"
	case "http", "ws":
		return "80"
	}
	return ""
}

// allowOrigin reports whether a browser on origin may call the gateway through r, and
// the Access-Control-Allow-Origin value to answer with ("" for a same-origin call,
// which needs none).
func (p corsPolicy) allowOrigin(origin string, r *http.Request) (bool, string) {
	if p.anyOrigin {
		return true, "*"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return false, "" // "null" (sandboxed pages, files) and anything that is not an origin
	}
	if p.origins[normalOrigin(u)] {
		return true, origin
	}
	if sameHost(u, r.Host) {
		return true, ""
	}
	return false, ""
}

// sameHost reports whether the origin names the host the request was sent to. The
// scheme is not compared: behind a TLS-terminating proxy the request arrives over
// plain HTTP from an https page. A Host without a port matches the origin's default.
func sameHost(origin *url.URL, host string) bool {
	h, port := splitHost(host)
	if h == "" || h != strings.ToLower(origin.Hostname()) {
		return false
	}
	op := portOr(origin.Port(), strings.ToLower(origin.Scheme))
	if port == "" {
		return op == "80" || op == "443"
	}
	return port == op
}

// allowHost reports whether host (a request's Host header) names this server in a
// way a web page cannot take over by DNS rebinding.
func (p corsPolicy) allowHost(host string) bool {
	h, _ := splitHost(host)
	return h != "" && (net.ParseIP(h) != nil || h == "localhost" || p.hosts[h])
}

// splitHost splits a Host header into its lower-case host name (IPv6 without
// brackets) and its port ("" when absent).
func splitHost(host string) (string, string) {
	if h, port, err := net.SplitHostPort(host); err == nil {
		return strings.ToLower(h), port
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ""
}

// corsMethods and corsHeaders are what a preflight may ask for.
const (
	corsMethods = "GET, POST, PUT, DELETE"
	corsHeaders = "Authorization, Content-Type"
)

// applyOrigin applies the origin rule to r. It returns false when it has answered r
// itself: a refusal, or the answer to an allowed preflight.
func (g *Gateway) applyOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	ok, allow := g.cors.allowOrigin(origin, r)
	if !ok {
		apierr.WriteREST(w, fmt.Errorf("%w: web pages from %q may not call this REST gateway (allowed origins are set by rest.cors_origins)",
			apierr.ErrOriginNotAllowed, origin))
		return false
	}
	if allow != "" {
		h.Set("Access-Control-Allow-Origin", allow)
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsMethods)
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// checkHost applies the rebinding rule to a request that runs without a token.
func (g *Gateway) checkHost(r *http.Request) error {
	if g.cors.allowHost(r.Host) {
		return nil
	}
	return fmt.Errorf("%w: this server does not answer requests without an API token addressed to %q "+
		"(a defence against DNS rebinding); use its IP address or localhost, the host of rest.livekit_url or of "+
		"rest.cors_origins, or send an API token", apierr.ErrHostNotAllowed, r.Host)
}

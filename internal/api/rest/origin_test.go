package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORSPolicyOrigins(t *testing.T) {
	p, warnings := newCORSPolicy([]string{"https://App.Example.com", "http://localhost:3000/"}, "wss://rtc.example.com", false)
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	cases := []struct {
		origin, host string
		ok           bool
		allow        string
	}{
		{"https://app.example.com", "usher:7880", true, "https://app.example.com"},
		{"https://app.example.com:443", "usher:7880", true, "https://app.example.com:443"},
		{"http://localhost:3000", "usher:7880", true, "http://localhost:3000"},
		{"http://app.example.com", "usher:7880", false, ""},       // another scheme is another origin
		{"https://app.example.com:8443", "usher:7880", false, ""}, // and another port
		{"https://evil.example", "usher:7880", false, ""},
		{"https://app.example.com.evil.example", "usher:7880", false, ""},
		{"null", "usher:7880", false, ""},
		{"", "usher:7880", false, ""},
		{"https://app.example.com/path", "usher:7880", false, ""},
		// Same origin: the page was served by this server.
		{"http://usher:7880", "usher:7880", true, ""},
		{"http://USHER:7880", "usher:7880", true, ""},
		{"https://usher.example.com", "usher.example.com", true, ""}, // behind a TLS proxy
		{"http://usher:7881", "usher:7880", false, ""},
		{"http://[::1]:7880", "[::1]:7880", true, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/livekit/rooms", nil)
		r.Host = c.host
		ok, allow := p.allowOrigin(c.origin, r)
		if ok != c.ok || allow != c.allow {
			t.Errorf("origin %q to %q: %v %q, want %v %q", c.origin, c.host, ok, allow, c.ok, c.allow)
		}
	}
}

func TestCORSPolicyWildcardNeedsAuth(t *testing.T) {
	r := httptest.NewRequest("GET", "/livekit/rooms", nil)
	open, warnings := newCORSPolicy([]string{"*"}, "", false)
	if ok, _ := open.allowOrigin("https://evil.example", r); ok || len(warnings) != 1 {
		t.Errorf(`"*" without auth: allowed %v, warnings %v`, ok, warnings)
	}
	authed, _ := newCORSPolicy([]string{"*"}, "", true)
	if ok, allow := authed.allowOrigin("https://any.example", r); !ok || allow != "*" {
		t.Errorf(`"*" with auth: %v %q`, ok, allow)
	}
}

func TestCORSPolicyHosts(t *testing.T) {
	p, _ := newCORSPolicy([]string{"https://app.example.com"}, "wss://RTC.example.com:7880", false)
	for host, want := range map[string]bool{
		"127.0.0.1:7880":          true,
		"10.0.0.5":                true,
		"[::1]:7880":              true,
		"[2001:db8::1]":           true,
		"localhost:7880":          true,
		"LocalHost":               true,
		"rtc.example.com":         true,
		"rtc.example.com:443":     true,
		"app.example.com:7880":    true,
		"attacker.example:7880":   false,
		"localhost.attacker.com":  false,
		"127.0.0.1.nip.io:7880":   false,
		"rtc.example.com.evil.io": false,
		"":                        false,
		"localhost.:7880":         false,
	} {
		if got := p.allowHost(host); got != want {
			t.Errorf("host %q: %v, want %v", host, got, want)
		}
	}
}

func TestApplyOriginAnswersPreflightsAndRefusals(t *testing.T) {
	g := New(Options{CORSOrigins: []string{"https://app.example.com"}})
	do := func(method, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/livekit/participant", nil)
		r.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			r.Header.Set("Access-Control-Request-Method", "DELETE")
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}
	w := do(http.MethodOptions, "https://app.example.com")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		w.Header().Get("Access-Control-Allow-Methods") != corsMethods || w.Header().Get("Vary") == "" {
		t.Errorf("allowed preflight: %d %v", w.Code, w.Header())
	}
	for _, method := range []string{http.MethodOptions, http.MethodDelete} {
		w = do(method, "https://evil.example")
		var body struct{ Error, Code string }
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 403 || body.Code != "ORIGIN_NOT_ALLOWED" || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s from a refused origin: %d %s %v", method, w.Code, w.Body, w.Header())
		}
	}
}

package twirpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twitchtv/twirp"
)

// A server without Usher's services answers their paths as livekit-server does: a
// plain 404 (current versions) or its health check, 200 "OK" (older ones). Either is
// bad_route, which the gateway reports as NOT_SUPPORTED; an error without a Twirp body
// is unavailable.
func TestClientOfAServerWithoutTheService(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle http.HandlerFunc
		code   twirp.ErrorCode
	}{
		{"plain 404", http.NotFound, twirp.BadRoute},
		{"health check", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) }, twirp.BadRoute},
		{"502 from a proxy", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad gateway", http.StatusBadGateway) }, twirp.Unavailable},
		{"a Twirp error", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"not_found","msg":"preset not found: \"x\""}`))
		}, twirp.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handle)
			defer srv.Close()
			_, err := NewClient(srv.URL, "key", "secret-secret-secret-secret-secret", nil).GetPreset(context.Background(), &PresetNameRequest{Name: "x"})
			var te twirp.Error
			if !errors.As(err, &te) || te.Code() != tc.code {
				t.Fatalf("error %v; want %s", err, tc.code)
			}
		})
	}
}

// The interceptor wraps every call, with the service and method.
func TestClientInterceptor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"identities":["a"]}`))
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "key", "secret-secret-secret-secret-secret", nil)
	var seen string
	c.SetInterceptor(func(ctx context.Context, service, method string, call func(context.Context) error) error {
		seen = service + "/" + method
		return call(ctx)
	})
	res, err := c.DisableAll(context.Background(), &DisableAllRequest{Room: "r", Kind: "audio"})
	if err != nil || len(res.Identities) != 1 || seen != "usher.HostControls/DisableAll" {
		t.Fatalf("DisableAll = %v %v; the interceptor saw %q", res, err, seen)
	}
}

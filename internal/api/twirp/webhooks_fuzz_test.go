package twirpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/webhook"
)

// FuzzWebhooksService sends any body, under any content type, to
// usher.Webhooks/ListDeliveryStatus: the answer is the status (for an empty request)
// or a Twirp error that is not internal, and never shows the URL's credentials.
func FuzzWebhooksService(f *testing.F) {
	for _, seed := range []string{"{}", "", "null", "[]", `{"url":"x"}`, "{}{}", `{"a":`, "\x00"} {
		f.Add("application/json", []byte(seed))
	}
	f.Add("application/protobuf", []byte{})
	f.Add("application/json; charset=utf-8", []byte("{ }"))
	status := webhook.Status{URLs: []webhook.URLStatus{{URL: webhook.RedactURL("https://u:hunter2@h/x?token=s3cret")}}}
	h := NewJSONHandler(WebhooksService, WebhooksMethods(func() webhook.Status { return status }), HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: 1 << 16,
	})
	tok, err := lkauth.NewAccessToken(fuzzKey, fuzzSecret).SetIdentity("ops").SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomList: true}).ToJWT()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if strings.ContainsAny(contentType, "\r\n\x00") {
			return // not representable in a header
		}
		req := httptest.NewRequest(http.MethodPost, "/twirp/usher.Webhooks/ListDeliveryStatus", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		out := w.Body.String()
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
			t.Fatalf("the answer shows a URL's credentials: %s", out)
		}
		if w.Code == http.StatusOK {
			var got webhook.Status
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got.URLs) != 1 {
				t.Fatalf("200 without the status: %q", out)
			}
			return
		}
		checkTwirpError(t, "ListDeliveryStatus", body, w)
	})
}

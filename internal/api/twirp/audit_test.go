package twirpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/store"
)

// auditTarget is the Audit service over a store holding records of rooms "mine" and
// "theirs".
type auditTarget struct {
	handler http.Handler
}

func newAuditTarget(t testing.TB) *auditTarget {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.AuditRecord
	for i := range 40 {
		recs = append(recs, store.AuditRecord{
			ID: fmt.Sprintf("EV_%d", i), Time: base.Add(time.Duration(i) * time.Minute),
			Kind: []string{"participant_removed", "participant_updated"}[i%2], Room: []string{"mine", "theirs"}[i%3%2],
			ParticipantIdentity: []string{"alice", "bob"}[i%2],
			Actor:               events.Actor{Kind: events.ActorAdmin, APIKey: fuzzKey, Identity: "admin", RequestID: fmt.Sprintf("REQ_%d", i)},
		})
	}
	if err := st.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	h := NewAuditHandler(audit.New(audit.Options{Store: st}), HandlerOptions{
		Verifier:    auth.NewVerifier(auth.StaticKeys{fuzzKey: fuzzSecret}),
		MaxBodySize: 1 << 20,
	})
	return &auditTarget{handler: h}
}

func auditToken(t testing.TB, g *lkauth.VideoGrant) string {
	tok, err := lkauth.NewAccessToken(fuzzKey, fuzzSecret).SetIdentity("caller").SetValidFor(time.Hour).SetVideoGrant(g).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (a *auditTarget) call(tok, method string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/twirp/usher.Audit/"+method, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, req)
	return w
}

func TestAuditServiceGrants(t *testing.T) {
	a := newAuditTarget(t)
	serverWide := auditToken(t, &lkauth.VideoGrant{RoomList: true, RoomCreate: true})
	mineAdmin := auditToken(t, &lkauth.VideoGrant{RoomAdmin: true, Room: "mine"})
	listOnly := auditToken(t, &lkauth.VideoGrant{RoomList: true})
	createOnly := auditToken(t, &lkauth.VideoGrant{RoomCreate: true})
	joinMine := auditToken(t, &lkauth.VideoGrant{RoomJoin: true, Room: "mine"})
	cases := []struct {
		name, tok, body string
		status          int
		want            string
	}{
		{"server-wide, everything", serverWide, `{}`, 200, ""},
		{"server-wide, one room", serverWide, `{"room":"theirs"}`, 200, ""},
		{"room admin, its room", mineAdmin, `{"room":"mine"}`, 200, ""},
		{"room admin, another room", mineAdmin, `{"room":"theirs"}`, 403, `roomAdmin grant is for room \"mine\"`},
		{"room admin, no room", mineAdmin, `{}`, 403, "without a room requires a server-wide admin token"},
		{"room admin, identity only", mineAdmin, `{"identity":"alice"}`, 403, "without a room"},
		{"roomList alone", listOnly, `{}`, 403, "roomList and roomCreate"},
		{"roomCreate alone", createOnly, `{"room":"mine"}`, 403, "roomAdmin"},
		{"join token", joinMine, `{"room":"mine"}`, 403, "roomAdmin"},
		{"no token", "", `{}`, 401, ""},
		{"unknown field", serverWide, `{"rooms":"x"}`, 400, "unknown field"},
		{"page size", serverWide, `{"page_size":5000}`, 400, "page_size"},
		{"unknown method", serverWide, `{}`, 404, ""},
	}
	for _, c := range cases {
		method := "ListAuditEvents"
		if c.name == "unknown method" {
			method = "DeleteAuditEvents"
		}
		w := a.call(c.tok, method, []byte(c.body))
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
	// A room's admin sees that room's records only, with the actor.
	w := a.call(mineAdmin, "ListAuditEvents", []byte(`{"room":"mine","kinds":["participant_removed"],"page_size":3}`))
	var page audit.Page
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 3 || page.NextPageToken == "" {
		t.Fatalf("page: %s", w.Body)
	}
	for _, r := range page.Events {
		if r.Room != "mine" || r.Kind != "participant_removed" || r.Actor.APIKey != fuzzKey || r.Actor.RequestID == "" {
			t.Errorf("record %+v", r)
		}
	}
}

// FuzzAuditRequest sends any body to ListAuditEvents as the admin of room "mine": the
// service never fails internally, never answers more than the page size, and never
// returns a record of another room.
func FuzzAuditRequest(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"room":"mine"}`, `{"room":"mine","page_size":2,"order":"oldest_first"}`,
		`{"room":"mine","kinds":["participant_removed"],"since":"2025-01-01T00:10:00Z","until":"2025-01-01T00:30:00Z"}`,
		`{"room":"mine","identity":"alice","actor_identity":"admin","actor_api_key":"APIfuzz","request_id":"REQ_3"}`,
		`{"room":"mine","page_token":"AQAYFmkKcyBwAAAAAAAAAAAL"}`, `{"room":"mine","page_token":"AQEYFmkKcyBwAAAAAAAAAAAL","order":"oldest_first"}`, `{"room":"theirs"}`, `{"room":"mine","tenant":"x"}`,
		`{"room":"mine"}{}`, `[]`, `{"room":1}`,
	} {
		f.Add([]byte(s))
	}
	a := newAuditTarget(f)
	tok := auditToken(f, &lkauth.VideoGrant{RoomAdmin: true, Room: "mine"})
	f.Fuzz(func(t *testing.T, body []byte) {
		w := a.call(tok, "ListAuditEvents", body)
		if w.Code >= 500 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w.Code != 200 {
			return
		}
		var req audit.ListRequest
		_ = json.Unmarshal(body, &req)
		var page audit.Page
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatalf("answer %s: %v", w.Body, err)
		}
		size := req.PageSize
		if size == 0 {
			size = audit.DefaultPageSize
		}
		if len(page.Events) > size {
			t.Fatalf("%d records for page_size %d", len(page.Events), size)
		}
		for _, r := range page.Events {
			if r.Room != "mine" {
				t.Fatalf("the admin of room mine read a record of %q", r.Room)
			}
		}
	})
}

package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/store"
)

const (
	schoolToken = "token-of-the-school-0123"
	clinicToken = "token-of-the-clinic-0123"
)

// auditGateway is a gateway whose audit log holds records of the rooms of tenants
// "school" and "clinic" and of a room of no tenant, each action by an admin.
func auditGateway(t testing.TB, withAudit bool) *Gateway {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.AuditRecord
	for i := range 30 {
		tenant := []string{"school", "clinic", ""}[i%3]
		recs = append(recs, store.AuditRecord{
			ID: fmt.Sprintf("EV_%d", i), Time: base.Add(time.Duration(i) * time.Minute), Kind: "participant_removed",
			Room: "room-" + tenant, Tenant: tenant, ParticipantIdentity: "p",
			Actor: events.Actor{Kind: events.ActorAdmin, APIKey: "APIsecretive", Identity: "ops", Address: "10.9.8.7", RequestID: "REQ"},
		})
	}
	if err := st.AppendAudit(recs); err != nil {
		t.Fatal(err)
	}
	opts := Options{Tokens: map[string]string{schoolToken: "school", clinicToken: "clinic"}, MaxBodySize: 1 << 20}
	if withAudit {
		opts.Audit = audit.New(audit.Options{Store: st})
	}
	return New(opts)
}

func getAudit(g *Gateway, token, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/livekit/audit?"+query, nil)
	req.Host = "127.0.0.1"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	return w
}

func TestAuditEndpoint(t *testing.T) {
	g := auditGateway(t, true)
	var page audit.Page
	w := getAudit(g, schoolToken, "page_size=4")
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(page.Events) != 4 || page.NextPageToken == "" {
		t.Fatalf("page %s", w.Body)
	}
	for _, r := range page.Events {
		if r.Tenant != "school" || r.Actor.APIKey != "" || r.Actor.Address != "" || r.Actor.Identity != "ops" {
			t.Errorf("the school sees %+v", r)
		}
	}
	// Naming another tenant's room finds nothing: it is not the caller's.
	w = getAudit(g, schoolToken, "room_name=room-clinic")
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != 200 || len(page.Events) != 0 {
		t.Errorf("another tenant's room: %d %s", w.Code, w.Body)
	}
	// Without a token (open mode), every record, as it is.
	w = getAudit(g, "", "page_size=1000")
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page.Events) != 30 || page.Events[0].Actor.Address != "10.9.8.7" {
		t.Errorf("open mode: %d %s", w.Code, w.Body)
	}
	for q, want := range map[string]string{
		"tenant=clinic":              "unknown query parameter",
		"page_size=1001":             "page_size",
		"since=yesterday":            "since",
		"room_name=a&room_name=b":    "given 2 times",
		"page_token=AAAA":            "page_token",
		"kind=%zz":                   "malformed",
		"order=oldest_first&x=1":     "unknown query parameter",
		"until=1900-01-01T00:00:00Z": "between 1970 and 2262",
	} {
		w := getAudit(g, schoolToken, q)
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), "INVALID_REQUEST") {
			t.Errorf("%s: %d %s", q, w.Code, w.Body)
		}
	}
	// A gateway fronting an upstream has no audit log.
	if w := getAudit(auditGateway(t, false), schoolToken, ""); w.Code != 501 || !strings.Contains(w.Body.String(), "NOT_SUPPORTED") {
		t.Errorf("upstream gateway: %d %s", w.Code, w.Body)
	}
}

// FuzzRESTAuditQuery sends any query string to GET /livekit/audit as one of two
// tenants: the endpoint never fails internally, and a tenant never reads a record of
// a room that is not its own, nor an operator's API key or address.
func FuzzRESTAuditQuery(f *testing.F) {
	for _, s := range []string{
		"", "page_size=3", "room_name=room-school&kind=participant_removed", "room_name=room-clinic",
		"identity=p&actor_identity=ops&actor_api_key=APIsecretive&request_id=REQ",
		"since=2025-01-01T00:05:00Z&until=2025-01-01T00:20:00Z&order=oldest_first",
		"kind=a,b&kind=c", "page_token=AQAYFmkKcyBwAAAAAAAAAAAL", "tenant=clinic", "api_key=x", "%", "room_name=%00",
	} {
		f.Add(false, s)
	}
	g := auditGateway(f, true)
	f.Fuzz(func(t *testing.T, clinic bool, query string) {
		token, tenant := schoolToken, "school"
		if clinic {
			token, tenant = clinicToken, "clinic"
		}
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/livekit/audit", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", query, w.Code, w.Body)
		}
		if w.Code != 200 {
			return
		}
		var page audit.Page
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatalf("%q: %s: %v", query, w.Body, err)
		}
		if len(page.Events) > audit.MaxPageSize {
			t.Fatalf("%d records", len(page.Events))
		}
		for _, r := range page.Events {
			if r.Tenant != tenant || r.Actor.APIKey != "" || r.Actor.Address != "" {
				t.Fatalf("%s read %+v", tenant, r)
			}
		}
	})
}

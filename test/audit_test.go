package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// listAudit calls usher.Audit/ListAuditEvents with token and the JSON request body.
func listAudit(t *testing.T, srv *testutil.TestServer, token, body string) (int, audit.Page, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/twirp/usher.Audit/ListAuditEvents", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var page audit.Page
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &page); err != nil {
			t.Fatalf("ListAuditEvents answered %s: %v", data, err)
		}
	}
	return resp.StatusCode, page, string(data)
}

// serverWideToken is an admin token that may read the whole audit log.
func serverWideToken(t *testing.T) string {
	return testutil.Token(t, "auditor", &lkauth.VideoGrant{RoomList: true, RoomCreate: true})
}

// waitAudited waits until the audit log has written n records.
func waitAudited(t *testing.T, srv *testutil.TestServer, n uint64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return srv.Audit().Written() >= n },
		"the audit log wrote %d records, want %d", srv.Audit().Written(), n)
}

func TestAuditServiceGrants(t *testing.T) {
	srv := testutil.StartServer(t)
	admin := events.Actor{Kind: events.ActorAdmin, APIKey: testutil.APIKey, Identity: "boss", RequestID: "REQ_x"}
	for _, name := range []string{"a", "b", "a", "b", "a"} {
		srv.Events().Publish(&events.Event{Kind: events.ParticipantRemoved, Room: &livekit.Room{Name: name},
			Participant: &livekit.ParticipantInfo{Identity: "p"}, Actor: admin})
	}
	waitAudited(t, srv, 5)
	cases := []struct {
		name   string
		grant  *lkauth.VideoGrant
		body   string
		status int
		count  int
		want   string
	}{
		{"server-wide", &lkauth.VideoGrant{RoomList: true, RoomCreate: true}, `{}`, 200, 5, ""},
		{"server-wide, one room", &lkauth.VideoGrant{RoomList: true, RoomCreate: true}, `{"room":"b"}`, 200, 2, ""},
		{"room admin of a", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, `{"room":"a"}`, 200, 3, ""},
		{"room admin of a, room b", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, `{"room":"b"}`, 403, 0, `"code":"permission_denied"`},
		{"room admin of a, no room", &lkauth.VideoGrant{RoomAdmin: true, Room: "a"}, `{"identity":"p"}`, 403, 0, "server-wide admin token"},
		{"roomList only", &lkauth.VideoGrant{RoomList: true}, `{}`, 403, 0, "roomList and roomCreate"},
		{"join token", &lkauth.VideoGrant{RoomJoin: true, Room: "a"}, `{"room":"a"}`, 403, 0, "roomAdmin"},
		{"bad page size", &lkauth.VideoGrant{RoomList: true, RoomCreate: true}, `{"page_size":100000}`, 400, 0, `"code":"invalid_argument"`},
		{"unknown field", &lkauth.VideoGrant{RoomList: true, RoomCreate: true}, `{"room_name":"a"}`, 400, 0, "room_name"},
	}
	for _, c := range cases {
		status, page, body := listAudit(t, srv, testutil.Token(t, "caller", c.grant), c.body)
		if status != c.status || len(page.Events) != c.count || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, %d records: %s", c.name, status, len(page.Events), body)
		}
	}
	if status, _, body := listAudit(t, srv, "", `{}`); status != 401 {
		t.Errorf("no token: %d %s", status, body)
	}
	// Only POST, only JSON.
	resp, err := http.Get(srv.URL + "/twirp/usher.Audit/ListAuditEvents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestAuditRESTIsTenantScoped(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	for tok, name := range map[string]string{tokA: "room-a", tokB: "room-b"} {
		if r := rest(t, srv, "POST", "/livekit/rooms", tok, `{"room_name":"`+name+`"}`); r.status != 201 {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
	}
	admin := events.Actor{Kind: events.ActorAdmin, APIKey: testutil.APIKey, Identity: "ops", Address: "10.0.0.9", RequestID: "REQ_ops"}
	tenantA := events.Actor{Kind: events.ActorTenant, Tenant: "tenant-a", Address: "10.0.0.1", RequestID: "REQ_a"}
	n := uint64(0)
	for _, name := range []string{"room-a", "room-b"} {
		rm, err := srv.Rooms().Room(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, actor := range []events.Actor{admin, tenantA} {
			srv.Events().Publish(&events.Event{Kind: events.ParticipantRemoved, Room: rm.Info(),
				Participant: &livekit.ParticipantInfo{Identity: "p-" + name}, Actor: actor})
			n++
		}
	}
	// The rooms are gone when the log is read: the tenant was recorded.
	for _, name := range []string{"room-a", "room-b"} {
		if _, err := srv.RoomClient().DeleteRoom(ctx10(t), &livekit.DeleteRoomRequest{Room: name}); err != nil {
			t.Fatal(err)
		}
	}
	waitAudited(t, srv, n)

	decode := func(r restResp) audit.Page {
		t.Helper()
		var p audit.Page
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	removals := func(p audit.Page) []audit.Record {
		var out []audit.Record
		for _, r := range p.Events {
			if r.Kind == string(events.ParticipantRemoved) {
				out = append(out, r)
			}
		}
		return out
	}
	pa := removals(decode(rest(t, srv, "GET", "/livekit/audit", tokA, "")))
	if len(pa) != 2 {
		t.Fatalf("tenant-a sees %+v", pa)
	}
	for _, r := range pa {
		if r.Room != "room-a" || r.Tenant != "tenant-a" {
			t.Errorf("tenant-a sees %+v", r)
		}
		switch r.Actor.Kind {
		case events.ActorAdmin:
			if r.Actor.APIKey != "" || r.Actor.Address != "" || r.Actor.Identity != "ops" || r.Actor.RequestID != "REQ_ops" {
				t.Errorf("an operator's action as tenant-a sees it: %+v", r.Actor)
			}
		case events.ActorTenant:
			if r.Actor.Address != "10.0.0.1" {
				t.Errorf("tenant-a's own action: %+v", r.Actor)
			}
		}
	}
	if p := removals(decode(rest(t, srv, "GET", "/livekit/audit?room_name=room-a", tokB, ""))); len(p) != 0 {
		t.Errorf("tenant-b reads room-a: %+v", p)
	}
	pb := removals(decode(rest(t, srv, "GET", "/livekit/audit?"+url.Values{"kind": {"participant_removed"}, "page_size": {"1"}}.Encode(), tokB, "")))
	if len(pb) != 1 || pb[0].Room != "room-b" {
		t.Errorf("tenant-b: %+v", pb)
	}
	if r := rest(t, srv, "GET", "/livekit/audit?tenant=tenant-a", tokB, ""); r.status != 400 || r.str("code") != "INVALID_REQUEST" {
		t.Errorf("a tenant parameter: %d %s", r.status, r.body)
	}
	if r := rest(t, srv, "GET", "/livekit/audit", "", ""); r.status != 401 {
		t.Errorf("without a token: %d %s", r.status, r.body)
	}
	// The Twirp service, for an operator, shows the whole record.
	_, page, _ := listAudit(t, srv, serverWideToken(t), `{"kinds":["participant_removed"],"actor_identity":"ops"}`)
	if len(page.Events) != 2 || page.Events[0].Actor.Address != "10.0.0.9" || page.Events[0].Actor.APIKey != testutil.APIKey {
		t.Errorf("operator view: %+v", page.Events)
	}
}

func TestAuditShutdownWritesEveryQueuedEvent(t *testing.T) {
	dataDir := t.TempDir()
	withDir := testutil.WithConfig(func(c *config.Config) { c.DataDir = dataDir })
	srv := testutil.StartServer(t, withDir)
	const n = 3000
	for i := range n {
		srv.Events().Publish(&events.Event{Kind: events.ParticipantUpdated, Room: &livekit.Room{Name: "r"},
			Participant: &livekit.ParticipantInfo{Identity: fmt.Sprint(i)}, Actor: events.Server})
	}
	stopServer(t, srv.Server) // at once: what is still queued is written on the way out
	if srv.Audit().Dropped() != 0 || srv.Audit().Written() != n {
		t.Fatalf("written %d, dropped %d", srv.Audit().Written(), srv.Audit().Dropped())
	}
	srv2 := testutil.StartServer(t, withDir)
	got := 0
	body := `{"room":"r","page_size":1000}`
	for {
		status, page, text := listAudit(t, srv2, serverWideToken(t), body)
		if status != 200 {
			t.Fatalf("%d %s", status, text)
		}
		got += len(page.Events)
		if page.NextPageToken == "" {
			break
		}
		body = `{"room":"r","page_size":1000,"page_token":"` + page.NextPageToken + `"}`
	}
	if got != n {
		t.Errorf("after a restart the log holds %d of %d records", got, n)
	}
}

func TestAuditDisabledRecordsNothing(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Audit.Enabled = false }))
	srv.Events().Publish(&events.Event{Kind: events.RoomStarted, Room: &livekit.Room{Name: "r"}})
	_, page, _ := listAudit(t, srv, serverWideToken(t), `{}`)
	if len(page.Events) != 0 || srv.Audit().Written() != 0 {
		t.Errorf("recorded with audit.enabled false: %+v", page.Events)
	}
}

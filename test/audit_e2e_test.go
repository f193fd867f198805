package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/app"
	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// withRequestID returns ctx carrying an X-Request-Id header for the SDK's calls.
func withRequestID(t *testing.T, ctx context.Context, id string) context.Context {
	t.Helper()
	ctx, err := twirp.WithHTTPRequestHeaders(ctx, http.Header{"X-Request-Id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// byKind returns the records of kind.
func byKind(recs []audit.Record, kind events.Kind) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if r.Kind == string(kind) {
			out = append(out, r)
		}
	}
	return out
}

// TestAuditWhoRemovedWhom: a teacher removes a student with the official SDK, the
// server restarts on the same data directory, and the audit log says who removed whom,
// when, from where and in which request, through the Twirp service and `usher audit`.
func TestAuditWhoRemovedWhom(t *testing.T) {
	dataDir := t.TempDir()
	withDir := testutil.WithConfig(func(c *config.Config) { c.DataDir = dataDir })
	srv := testutil.StartServer(t, withDir)
	watcher := srv.Join(t, "class", "watcher")
	troll := srv.Join(t, "class", "troll", testutil.WithName("Troll"))
	waitActive(t, srv, "class", "watcher", "troll")
	trollSID := srv.Participant(t, "class", "troll").Sid
	roomSID := watcher.Room.SID()

	// The teacher's token names them; the SDK's RoomServiceClient sends it as it is.
	teacherTok := testutil.Token(t, "teacher", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"})
	api, err := lksdk.NewLiveKitAPI(lksdk.WithURL(srv.URL), lksdk.WithToken(teacherTok))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	_, err = api.Room().UpdateParticipant(withRequestID(t, ctx10(t), "req-mute-watcher"), &livekit.UpdateParticipantRequest{
		Room: "class", Identity: "watcher", Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: false, CanPublishData: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Room().RemoveParticipant(withRequestID(t, ctx10(t), "req-remove-troll"), &livekit.RoomParticipantIdentity{Room: "class", Identity: "troll"})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	troll.WaitFor(t, 5*time.Second, "disconnected", "")

	stopServer(t, srv.Server)
	srv2 := testutil.StartServer(t, withDir)

	// The room's admin asks about the room.
	adminTok := testutil.Token(t, "auditor", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"})
	status, page, body := listAudit(t, srv2, adminTok, `{"room":"class","kinds":["participant_removed"]}`)
	if status != 200 || len(page.Events) != 1 {
		t.Fatalf("removals: %d %s", status, body)
	}
	r := page.Events[0]
	want := events.Actor{Kind: events.ActorAdmin, APIKey: testutil.APIKey, Identity: "teacher", Address: "127.0.0.1", RequestID: "req-remove-troll"}
	if r.Actor != want {
		t.Errorf("removed by %+v, want %+v", r.Actor, want)
	}
	if r.ParticipantIdentity != "troll" || r.ParticipantSID != trollSID || r.ParticipantName != "Troll" ||
		r.Room != "class" || r.RoomSID != roomSID || r.Time.Before(before) || r.Time.After(after) || !strings.HasPrefix(r.ID, "EV_") {
		t.Errorf("removal record %+v (room sid %s, troll %s)", r, roomSID, trollSID)
	}

	// Everything about the troll, oldest first: joined, then removed and gone, by the teacher.
	_, page, _ = listAudit(t, srv2, serverWideToken(t), `{"identity":"troll","order":"oldest_first"}`)
	var kinds []string
	for _, r := range page.Events {
		kinds = append(kinds, r.Kind)
	}
	seq := strings.Join(kinds, " ")
	if !strings.HasPrefix(seq, "participant_joined") || !strings.Contains(seq, "participant_removed") ||
		strings.Index(seq, "participant_removed") > strings.Index(seq, "participant_left") {
		t.Errorf("the troll's history: %s", seq)
	}
	if left := byKind(page.Events, events.ParticipantLeft); len(left) != 1 || left[0].Reason != "PARTICIPANT_REMOVED" || left[0].Actor.Identity != "teacher" {
		t.Errorf("the troll's departure: %+v", left)
	}

	// The permission change, before → after, with its request.
	_, page, _ = listAudit(t, srv2, adminTok, `{"room":"class","request_id":"req-mute-watcher"}`)
	upd := byKind(page.Events, events.ParticipantUpdated)
	if len(upd) != 1 || upd[0].ParticipantIdentity != "watcher" || len(upd[0].Changes) == 0 || upd[0].Actor.Identity != "teacher" {
		t.Fatalf("permission change: %+v", page.Events)
	}
	c := upd[0].Changes[0]
	if c.Field != "permission" || !strings.Contains(c.Before, "can_publish") || c.Before == c.After {
		t.Errorf("permission change: %+v", upd[0].Changes)
	}

	// The shutdown itself is in the log: the watcher left with SERVER_SHUTDOWN, the room finished.
	_, page, _ = listAudit(t, srv2, adminTok, `{"room":"class","kinds":["participant_left","room_finished"]}`)
	var shutdown []string
	for _, r := range page.Events {
		shutdown = append(shutdown, r.Kind+"/"+r.ParticipantIdentity+"/"+r.Reason+"/"+string(r.Actor.Kind))
	}
	if got := strings.Join(shutdown, " "); !strings.Contains(got, "participant_left/watcher/SERVER_SHUTDOWN/server") || !strings.Contains(got, "room_finished//") {
		t.Errorf("at shutdown: %s", got)
	}

	// And `usher audit` says it in one line.
	var out, errOut bytes.Buffer
	err = app.Run(context.Background(), []string{"audit", "--url", srv2.URL, "--api-key", testutil.APIKey, "--api-secret", testutil.APISecret,
		"--room", "class", "--kind", "participant_removed"}, &out, &errOut, func(string) string { return "" })
	if err != nil {
		t.Fatalf("usher audit: %v %s", err, errOut.String())
	}
	if line := strings.TrimSpace(out.String()); strings.Count(line, "\n") != 0 ||
		!strings.Contains(line, "participant_removed room=class room_sid="+roomSID+" participant=troll participant_sid="+trollSID) ||
		!strings.Contains(line, "actor=admin actor_identity=teacher actor_api_key="+testutil.APIKey+" actor_address=127.0.0.1 request_id=req-remove-troll") {
		t.Errorf("usher audit printed %q", out.String())
	}
}

// TestAuditRESTRemovalByATenant: a tenant removes a participant through the REST
// gateway; the tenant's audit shows it with its own address, the other tenant sees
// nothing of that room.
func TestAuditRESTRemovalByATenant(t *testing.T) {
	srv := testutil.StartServer(t, withREST(true))
	r := rest(t, srv, "POST", "/livekit/token", tokA, `{"room_name":"clinic-1","participant_name":"Pat","participant_identity":"patient"}`)
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	srv.Join(t, "clinic-1", "patient", testutil.WithToken(r.str("token")))
	waitActive(t, srv, "clinic-1", "patient")
	req, err := http.NewRequest("DELETE", srv.URL+"/livekit/participant", strings.NewReader(`{"room_name":"clinic-1","participant_identity":"patient"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokA)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "rest-remove-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	var removal audit.Record
	testutil.Eventually(t, 5*time.Second, func() bool {
		res := rest(t, srv, "GET", "/livekit/audit?kind=participant_removed", tokA, "")
		var p audit.Page
		if res.status != 200 || jsonUnmarshal(res.body, &p) != nil || len(p.Events) != 1 {
			return false
		}
		removal = p.Events[0]
		return true
	}, "tenant-a does not see its removal")
	a := removal.Actor
	if removal.Room != "clinic-1" || removal.Tenant != "tenant-a" || removal.ParticipantIdentity != "patient" ||
		a.Kind != events.ActorTenant || a.Tenant != "tenant-a" || a.Address != "127.0.0.1" || a.RequestID != "rest-remove-1" {
		t.Errorf("tenant-a sees %+v", removal)
	}
	var pb audit.Page
	if res := rest(t, srv, "GET", "/livekit/audit", tokB, ""); res.status != 200 || jsonUnmarshal(res.body, &pb) != nil || len(pb.Events) != 0 {
		t.Errorf("tenant-b sees %s", res.body)
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

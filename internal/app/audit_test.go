package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

func TestAuditCommand(t *testing.T) {
	srv := testutil.StartServer(t)
	bus := srv.Events()
	boss := events.Actor{Kind: events.ActorAdmin, APIKey: testutil.APIKey, Identity: "boss", Address: "127.0.0.1", RequestID: "REQ_1"}
	bus.Publish(&events.Event{Kind: events.ParticipantJoined, Room: &livekit.Room{Name: "r", Sid: "RM_r"},
		Participant: &livekit.ParticipantInfo{Identity: "troll", Sid: "PA_t"}, Actor: events.ParticipantActor("r", "troll")})
	bus.Publish(&events.Event{Kind: events.ParticipantUpdated, Room: &livekit.Room{Name: "r", Sid: "RM_r"},
		Participant: &livekit.ParticipantInfo{Identity: "troll", Sid: "PA_t"}, Actor: boss,
		Changes: []events.Change{{Field: "name", Before: "Troll", After: "Quiet troll"}}})
	bus.Publish(&events.Event{Kind: events.ParticipantRemoved, Room: &livekit.Room{Name: "r", Sid: "RM_r"},
		Participant: &livekit.ParticipantInfo{Identity: "troll", Sid: "PA_t"}, Actor: boss, Reason: "spam in chat"})
	bus.Publish(&events.Event{Kind: events.ParticipantRemoved, Room: &livekit.Room{Name: "s"},
		Participant: &livekit.ParticipantInfo{Identity: "x"}, Actor: boss})
	testutil.Eventually(t, 5*time.Second, func() bool { return srv.Audit().Written() == 4 }, "records not written")

	creds := []string{"--url", srv.URL, "--api-key", testutil.APIKey, "--api-secret", testutil.APISecret}
	out, _, err := run(t, nil, append([]string{"audit"}, creds...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], " participant_removed room=s ") || !strings.Contains(lines[3], " participant_joined ") {
		t.Fatalf("newest first:\n%s", out)
	}
	want := "participant_removed room=r room_sid=RM_r participant=troll participant_sid=PA_t actor=admin actor_identity=boss " +
		"actor_api_key=" + testutil.APIKey + " actor_address=127.0.0.1 request_id=REQ_1 reason=\"spam in chat\""
	if !strings.HasSuffix(lines[1], want) {
		t.Errorf("the removal:\n%s\nwant it to end with\n%s", lines[1], want)
	}
	if !strings.HasSuffix(lines[2], `actor=admin actor_identity=boss actor_api_key=`+testutil.APIKey+` actor_address=127.0.0.1 request_id=REQ_1 name: "Troll" → "Quiet troll"`) {
		t.Errorf("the update: %s", lines[2])
	}

	// Filters, the room admin's token, and the environment instead of flags.
	env := map[string]string{"LIVEKIT_URL": "ws" + strings.TrimPrefix(srv.URL, "http"), "LIVEKIT_API_KEY": testutil.APIKey, "LIVEKIT_API_SECRET": testutil.APISecret}
	out, _, err = run(t, env, "audit", "--room", "r", "--kind", "participant_removed,participant_updated", "--since", "1h", "--oldest-first", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		kinds = append(kinds, r.Kind+"/"+r.Actor.Identity)
	}
	if strings.Join(kinds, " ") != "participant_updated/boss participant_removed/boss" {
		t.Errorf("filtered: %v", kinds)
	}
	out, errOut, err := run(t, env, "audit", "--identity", "troll", "--limit", "1")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "more match") {
		t.Errorf("--limit 1: %v %q %q", err, out, errOut)
	}
	out, _, err = run(t, env, "audit", "--until", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if err != nil || out != "" {
		t.Errorf("nothing before an hour ago: %v %q", err, out)
	}

	// Refusals.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", srv.URL, "--api-key", testutil.APIKey, "--api-secret", "wrong-secret-0123456789abcdef0123"}, "unauthenticated"},
		{[]string{"--url", srv.URL}, "needs --api-key and --api-secret"},
		{append([]string{"--since", "yesterday"}, creds...), "--since \"yesterday\""},
		{append([]string{"--kind", "Removed"}, creds...), "not an event kind"},
		{append([]string{"--limit", "-1"}, creds...), "--limit"},
		{[]string{"--url", "ftp://x", "--api-key", "k", "--api-secret", "s"}, "must start with"},
		{[]string{"--url", srv.URL + "/nowhere", "--api-key", testutil.APIKey, "--api-secret", testutil.APISecret}, "answered 404"},
	} {
		if _, _, err := run(t, nil, append([]string{"audit"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestAuditCommandPagesThroughEverything(t *testing.T) {
	srv := testutil.StartServer(t)
	const n = 2500
	for i := range n {
		srv.Events().Publish(&events.Event{Kind: events.ParticipantJoined, Room: &livekit.Room{Name: "big"},
			Participant: &livekit.ParticipantInfo{Identity: fmt.Sprint(i)}})
		if i%1000 == 999 {
			testutil.Eventually(t, 10*time.Second, func() bool { return srv.Audit().Written() == uint64(i+1) }, "records not written")
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return srv.Audit().Written() == n }, "records not written")
	out, _, err := run(t, nil, "audit", "--url", srv.URL, "--api-key", testutil.APIKey, "--api-secret", testutil.APISecret,
		"--room", "big", "--limit", "0", "--oldest-first")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n || !strings.HasSuffix(lines[0], "participant=0") || !strings.HasSuffix(lines[n-1], fmt.Sprintf("participant=%d", n-1)) {
		t.Errorf("%d lines, first %q last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

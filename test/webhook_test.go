package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
	"github.com/usher-rtc/usher/internal/webhook"
)

const webhookWait = 15 * time.Second

// withWebhooks configures LiveKit-style and moderation webhook URLs, retried fast.
func withWebhooks(urls, moderation []string) testutil.Option {
	return testutil.WithConfig(func(c *config.Config) {
		c.Webhook.URLs = urls
		c.Webhook.ModerationURLs = moderation
		c.Webhook.RetryMinInterval = 5 * time.Millisecond
		c.Webhook.RetryMaxInterval = 50 * time.Millisecond
	})
}

// busRecord collects, in order, every event the server publishes (the test's own
// subscription to the bus the webhooks are fed from).
type busRecord struct {
	sub *events.Subscription
	evs []*events.Event
}

func recordBus(t *testing.T, srv *testutil.TestServer) *busRecord {
	sub := srv.Events().Subscribe("webhook-test", 100000)
	t.Cleanup(func() { srv.Events().Unsubscribe(sub) })
	return &busRecord{sub: sub}
}

// until reads events until one matches, and returns every event read so far.
func (b *busRecord) until(t *testing.T, what string, match func(*events.Event) bool) []*events.Event {
	t.Helper()
	timeout := time.After(webhookWait)
	for {
		select {
		case e := <-b.sub.C():
			b.evs = append(b.evs, e)
			if match(e) {
				return b.evs
			}
		case <-timeout:
			t.Fatalf("bus: no %s within %s (%d events)", what, webhookWait, len(b.evs))
		}
	}
}

func roomFinished(room string) func(*events.Event) bool {
	return func(e *events.Event) bool { return e.Kind == events.RoomFinished && e.RoomName() == room }
}

func kindsOf(evs []*events.Event) map[events.Kind]int {
	out := map[events.Kind]int{}
	for _, e := range evs {
		out[e.Kind]++
	}
	return out
}

// A LiveKit receiver gets every room and participant event of a real room, in order,
// signed as LiveKit signs (checked by the SDK's webhook.ReceiveWebhookEvent), with
// nothing else; a moderation receiver gets the moderation events too, every event
// carrying its actor.
func TestWebhooksCarryEveryRoomEvent(t *testing.T) {
	lk := testutil.NewWebhookReceiver(t)
	mod := testutil.NewWebhookReceiver(t)
	srv := testutil.StartServer(t, withWebhooks([]string{lk.URL}, []string{mod.URL}),
		testutil.WithConfig(func(c *config.Config) { c.Signal.JoinTimeout = time.Second }))
	bus := recordBus(t, srv)
	rc := srv.RoomClient()
	ctx := ctx10(t)

	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "class"}); err != nil {
		t.Fatal(err)
	}
	student := srv.Join(t, "class", "student")
	_, _, vpub := publishMedia(t, student)
	testutil.Eventually(t, webhookWait, func() bool { return len(srv.Participant(t, "class", "student").Tracks) == 2 }, "tracks not published")
	if _, err := rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "class", Identity: "student", Metadata: "seat 4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "class", Identity: "student", TrackSid: vpub.SID(), Muted: true}); err != nil {
		t.Fatal(err)
	}
	// A participant whose media never connects: its join times out (connection aborted).
	dialRaw(t, srv, testutil.JoinToken(t, "class", "ghost"), "")
	bus.until(t, "connection_aborted", func(e *events.Event) bool { return e.Kind == events.ParticipantConnectionAborted })
	if _, err := rc.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "class", Identity: "student"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "class"}); err != nil {
		t.Fatal(err)
	}
	all := bus.until(t, "room_finished", roomFinished("class"))

	want := testutil.LiveKitEvents(all)
	kinds := kindsOf(want)
	for _, k := range []events.Kind{events.RoomStarted, events.RoomFinished, events.ParticipantJoined, events.ParticipantLeft,
		events.ParticipantConnectionAborted, events.TrackPublished, events.TrackUnpublished} {
		if kinds[k] == 0 {
			t.Errorf("the scenario produced no %s (%v)", k, kinds)
		}
	}
	if k := kindsOf(all); k[events.ParticipantUpdated] != 1 || k[events.TrackMuted] != 1 || k[events.ParticipantRemoved] != 1 {
		t.Errorf("moderation events %v", k)
	}
	testutil.CheckWebhooks(t, "LiveKit receiver", lk.WaitAccepted(webhookWait, len(want)), want, false)
	got := mod.WaitAccepted(webhookWait, len(all))
	testutil.CheckWebhooks(t, "moderation receiver", got, all, true)
	for _, g := range got {
		if g.Event.Event == string(events.RoomFinished) && g.Event.RoomEndReason != livekit.RoomEndReason_ROOM_END_API_DELETE {
			t.Errorf("room_finished after DeleteRoom: room_end_reason %s", g.Event.RoomEndReason)
		}
		if g.Event.Event == string(events.ParticipantRemoved) &&
			(g.Ext.Actor.Kind != events.ActorAdmin || g.Ext.Actor.APIKey != testutil.APIKey || g.Ext.Actor.RequestID == "") {
			t.Errorf("participant_removed actor %+v", g.Ext.Actor)
		}
	}
	for _, r := range []*testutil.WebhookReceiver{lk, mod} {
		if bad := r.Invalid(); len(bad) > 0 {
			t.Errorf("requests the SDK refused: %v", bad)
		}
	}
}

// A receiver that answers 503, then is gone while the server restarts on the same
// data directory, then comes back: it gets every event of both runs, the shutdown's
// own events included, in order; the failed attempts carried the same event IDs.
func TestWebhooksSurviveOutageAndRestart(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.SetStatus(http.StatusServiceUnavailable)
	dataDir := t.TempDir()
	opts := []testutil.Option{
		withWebhooks(nil, []string{rcv.URL}),
		testutil.WithConfig(func(c *config.Config) { c.DataDir = dataDir }),
	}
	srv := testutil.StartServer(t, opts...)
	bus := recordBus(t, srv)
	if _, err := srv.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	srv.Join(t, "before", "alice")
	waitActive(t, srv, "before", "alice")
	rcv.WaitFor(webhookWait, "attempts answered 503", func(r *testutil.WebhookReceiver) bool { return len(r.All()) >= 3 })

	rcv.Down()
	stopServer(t, srv.Server) // alice leaves and the room finishes: queued while the receiver is gone
	first := bus.until(t, "room_finished", roomFinished("before"))

	srv2 := testutil.StartServer(t, opts...)
	bus2 := recordBus(t, srv2)
	if _, err := srv2.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "after"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv2.RoomClient().DeleteRoom(ctx10(t), &livekit.DeleteRoomRequest{Room: "after"}); err != nil {
		t.Fatal(err)
	}
	second := bus2.until(t, "room_finished", roomFinished("after"))
	all := append(append([]*events.Event(nil), first...), second...)
	if st := webhookStatus(t, srv2).URLs[0]; st.Pending == 0 {
		t.Errorf("nothing pending while the receiver is down: %+v", st)
	}

	rcv.SetStatus(http.StatusOK)
	rcv.Up()
	testutil.CheckWebhooks(t, "receiver after the outage", rcv.WaitAccepted(webhookWait, len(all)), all, true)
	ids := map[string]bool{}
	for _, e := range all {
		ids[e.ID] = true
	}
	for _, r := range rcv.All() {
		if !ids[r.Event.GetId()] {
			t.Errorf("a request carried an unknown event ID %q (%s)", r.Event.GetId(), r.Event.GetEvent())
		}
	}
	if k := kindsOf(first); k[events.ParticipantLeft] != 1 || k[events.RoomFinished] != 1 {
		t.Errorf("the shutdown's events: %v", k)
	}
	for _, g := range rcv.Accepted() {
		if g.Event.Event == string(events.RoomFinished) && g.Event.Room.GetName() == "before" &&
			g.Event.RoomEndReason != livekit.RoomEndReason_ROOM_END_SERVER_SHUTDOWN {
			t.Errorf("room_finished at the shutdown: room_end_reason %s", g.Event.RoomEndReason)
		}
	}
	testutil.Eventually(t, webhookWait, func() bool { return webhookStatus(t, srv2).URLs[0].Pending == 0 }, "outbox not emptied")
}

// A receiver that never answers delays no admin call: every call returns while the
// receiver holds the first webhook.
func TestStuckWebhookReceiverDoesNotSlowAdminCalls(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	rcv.Hold()
	srv := testutil.StartServer(t, withWebhooks([]string{rcv.URL}, []string{rcv.URL + "?mod=1"}))
	t.Cleanup(rcv.Release) // before the server stops, so that it need not wait for the receiver
	rc := srv.RoomClient()
	srv.Join(t, "r", "alice")
	rcv.WaitFor(webhookWait, "a held webhook", func(r *testutil.WebhookReceiver) bool { return r.Held() == 2 })
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Metadata: strings.Repeat("x", i+1)})
		cancel()
		if err != nil {
			t.Fatalf("UpdateParticipant %d while the receiver is stuck: %v", i, err)
		}
	}
	if n := rcv.Held(); n != 2 {
		t.Errorf("%d requests held; each URL sends one at a time", n)
	}
	// The updates wait in the outbox (written a moment after each call returned).
	testutil.Eventually(t, webhookWait, func() bool { return webhookStatus(t, srv).URLs[1].Pending >= 50 }, "updates not pending")
}

// webhookStatus calls usher.Webhooks/ListDeliveryStatus with a roomList token.
func webhookStatus(t *testing.T, srv *testutil.TestServer) webhook.Status {
	t.Helper()
	code, body := postWebhooks(t, srv, testutil.Token(t, "ops", &lkauth.VideoGrant{RoomList: true}), "{}")
	if code != http.StatusOK {
		t.Fatalf("ListDeliveryStatus: %d %s", code, body)
	}
	var st webhook.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func postWebhooks(t *testing.T, srv *testutil.TestServer, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/twirp/usher.Webhooks/ListDeliveryStatus", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The delivery status is admin-only (roomList) and never shows a URL's credentials.
func TestWebhookDeliveryStatusAPI(t *testing.T) {
	rcv := testutil.NewWebhookReceiver(t)
	secretURL := strings.Replace(rcv.URL, "http://", "http://hook:hunter2@", 1) + "?token=s3cret"
	srv := testutil.StartServer(t, withWebhooks([]string{secretURL}, nil))
	if _, err := srv.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	rcv.WaitAccepted(webhookWait, 1)
	var st webhook.Status
	testutil.Eventually(t, webhookWait, func() bool { st = webhookStatus(t, srv); return st.URLs[0].Delivered == 1 }, "delivery not counted")
	u := st.URLs[0]
	if u.Moderation || u.Pending != 0 || u.LastSuccessAt == nil || u.LastError != "" {
		t.Errorf("status %+v", u)
	}
	_, body := postWebhooks(t, srv, testutil.Token(t, "ops", &lkauth.VideoGrant{RoomList: true}), "")
	if strings.Contains(body, "hunter2") || strings.Contains(body, "s3cret") || !strings.Contains(body, `"url":"http://***@127.0.0.1:`) {
		t.Errorf("the status shows a URL's credentials or no URL: %s", body)
	}
	for name, c := range map[string]struct {
		token, body string
		code        int
		want        string
	}{
		"no token":      {"", "{}", http.StatusUnauthorized, "unauthenticated"},
		"room admin":    {testutil.Token(t, "ops", &lkauth.VideoGrant{RoomAdmin: true, Room: "r"}), "{}", http.StatusForbidden, "roomList"},
		"unknown field": {testutil.Token(t, "ops", &lkauth.VideoGrant{RoomList: true}), `{"url":"x"}`, http.StatusBadRequest, "unknown field"},
		"two objects":   {testutil.Token(t, "ops", &lkauth.VideoGrant{RoomList: true}), `{}{}`, http.StatusBadRequest, "one JSON object"},
	} {
		if code, body := postWebhooks(t, srv, c.token, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}

	// Without webhooks the service answers an empty list.
	plain := testutil.StartServer(t)
	if st := webhookStatus(t, plain); st.URLs == nil || len(st.URLs) != 0 {
		t.Errorf("status without webhooks: %+v", st)
	}
}

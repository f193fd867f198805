package test

import (
	"context"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/testutil"
)

// clinicPresets: a doctor who admits, a nurse who may not, and patients who wait.
func clinicPresets(c *config.Config) {
	c.Presets = map[string]config.PresetConfig{
		"doctor": {CanPublish: true, CanSubscribe: true, CanPublishData: true, Host: config.HostControls{
			AcceptWaitingRequests: true, KickParticipant: true,
		}},
		"nurse":   {CanPublish: true, CanSubscribe: true, CanPublishData: true, Host: config.HostControls{PinParticipant: true}},
		"patient": {CanPublish: true, CanPublishSources: []string{"microphone", "camera"}, CanSubscribe: true, CanPublishData: true, WaitingRoom: true},
	}
}

func attrOf(c *testutil.Client) map[string]string { return c.Room.LocalParticipant.Attributes() }

// waitAttr waits until the local participant of c carries attribute k = v.
func waitAttr(t *testing.T, c *testutil.Client, k, v string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, func() bool { return attrOf(c)[k] == v }, c.Identity+": attribute "+k+" is not "+v)
}

// A patient waits: its SDK shows it waiting and alone, with no permission; only the
// doctor sees it; data sent in the room never reaches it. Admitted, it sees everyone
// and everyone sees it, and media flows both ways.
func TestWaitingRoomHoldsAndAdmits(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	rc := srv.RoomClient()
	if _, err := rc.CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "visit", Metadata: "diagnosis: secret"}); err != nil {
		t.Fatal(err)
	}
	w := watchEvents(t, srv, "visit")
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	nurse := srv.Join(t, "visit", "nurse", preset("nurse"))
	mp, _, vpub := publishMedia(t, nurse)
	defer mp.close()
	doctor.WaitForDetail(t, 10*time.Second, "track_subscribed", vpub.SID())

	patient := srv.Join(t, "visit", "patient", preset("patient"))
	if a := attrOf(patient); a["usher.waiting"] != "true" || a["usher.waiting_status"] != "host_present" {
		t.Fatalf("the waiting patient's attributes: %v", a)
	}
	if n := len(patient.Room.GetRemoteParticipants()); n != 0 {
		t.Fatalf("the waiting patient sees %d participants", n)
	}
	if md := patient.Room.Metadata(); md != "" {
		t.Fatalf("the waiting patient sees the room metadata %q", md)
	}
	if perm := patient.Room.LocalParticipant.Permissions(); perm.GetCanPublish() || perm.GetCanSubscribe() || perm.GetCanPublishData() {
		t.Fatalf("the waiting patient's permission: %+v", perm)
	}
	// The doctor sees the patient, waiting; the nurse does not (a latecomer everyone sees
	// is the barrier).
	doctor.WaitFor(t, 5*time.Second, "participant_connected", "patient")
	if rp := doctor.Room.GetParticipantByIdentity("patient"); rp == nil || rp.Attributes()["usher.waiting"] != "true" {
		t.Fatalf("the doctor does not see the patient waiting")
	}
	e := w.find(t, events.ParticipantWaiting)
	if e.Participant.GetIdentity() != "patient" {
		t.Fatalf("participant_waiting for %q", e.Participant.GetIdentity())
	}
	// Data sent to everyone while the patient waits never reaches it.
	if err := nurse.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("chart of another patient")), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	doctor.WaitFor(t, 5*time.Second, "data", "nurse")
	// It cannot admit itself (its data connection is up once it has its answer); nor
	// does its own data reach anyone.
	_, rerr := rpc(t, patient, "admit", `{"identity":"patient"}`)
	wantCode(t, "a waiting participant admitting itself", rerr, 1201)
	if err := patient.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("let me in")), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatalf("the waiting patient could not send data at all: %v", err)
	}
	// Its data channel is ordered: once the server answered a later call, it has
	// handled the packet; the data barrier then flushes what it may have sent on.
	_, rerr = rpc(t, patient, "listWaiting", `{}`)
	wantCode(t, "a waiting participant listing the queue", rerr, 1201)
	srv.DataBarrier(t, "visit", doctor, nurse)
	if doctor.Has("data", "patient") || nurse.Has("data", "patient") {
		t.Fatal("data of the waiting patient reached the room")
	}
	srv.SignalBarrier(t, "visit", nurse)
	if nurse.Room.GetParticipantByIdentity("patient") != nil || nurse.Has("participant_connected", "patient") {
		t.Fatal("the nurse sees the waiting patient")
	}
	rooms, err := rc.ListRooms(ctx10(t), &livekit.ListRoomsRequest{Names: []string{"visit"}})
	if err != nil || len(rooms.Rooms) != 1 || rooms.Rooms[0].NumParticipants != 2 {
		t.Errorf("ListRooms while the patient waits: %v %v; want num_participants 2", rooms, err)
	}
	if p := srv.Participant(t, "visit", "patient"); p.Attributes["usher.waiting"] != "true" {
		t.Errorf("the Room service shows the patient with %v", p.Attributes)
	}

	// A nurse may not admit.
	_, rerr = rpc(t, nurse, "admit", `{"identity":"patient"}`)
	wantCode(t, "a nurse admitting", rerr, 1201)
	_, rerr = rpc(t, doctor, "admit", `{"identity":"nurse"}`)
	wantCode(t, "admitting someone not waiting", rerr, 1206)
	list, rerr := rpc(t, doctor, "listWaiting", `{}`)
	if rerr != nil || len(list["waiting"].([]any)) != 1 {
		t.Fatalf("listWaiting = %v %v", list, rerr)
	}

	res, rerr := rpc(t, doctor, "admit", `{"identity":"patient"}`)
	if rerr != nil || res["admitted"] != "patient" {
		t.Fatalf("admit: %v %v", res, rerr)
	}
	// At once: the permission of its preset, everyone, their tracks, the room.
	testutil.Eventually(t, 5*time.Second, func() bool {
		return patient.Room.LocalParticipant.Permissions().GetCanPublish() && patient.Room.GetParticipantByIdentity("nurse") != nil
	}, "the admitted patient has no permission or sees nobody")
	waitAttr(t, patient, "usher.waiting", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video := make(chan frame, 64)
	go readVP8(ctx, subscribedTrack(t, patient, vpub.SID()), video)
	expectFrames(t, "the admitted patient receives the nurse's video", video, 10, true)
	nurse.WaitFor(t, 5*time.Second, "participant_connected", "patient")
	pmp, _, pv := publishMedia(t, patient)
	defer pmp.close()
	nurseVideo := make(chan frame, 64)
	go readVP8(ctx, subscribedTrack(t, nurse, pv.SID()), nurseVideo)
	expectFrames(t, "the nurse receives the admitted patient's video", nurseVideo, 10, true)
	testutil.Eventually(t, 5*time.Second, func() bool { return patient.Room.Metadata() != "" }, "the admitted patient has no room metadata")
	srv.DataBarrier(t, "visit", patient)
	if patient.Has("data", "nurse") {
		t.Fatal("data sent while the patient waited reached it")
	}
	e = w.find(t, events.ParticipantAdmitted)
	if e.Participant.GetIdentity() != "patient" || e.Actor.Kind != events.ActorParticipant || e.Actor.Identity != "doctor" {
		t.Fatalf("participant_admitted for %q by %+v", e.Participant.GetIdentity(), e.Actor)
	}
	if e := w.next(t, events.ParticipantJoined); e.Kind != events.ParticipantJoined || e.Participant.GetIdentity() != "patient" {
		t.Fatalf("after participant_admitted: %s for %q", e.Kind, e.Participant.GetIdentity())
	}
}

// A denied patient leaves with USER_REJECTED, and its token is refused from then on;
// admit-all admits in the order of arrival; one who leaves the queue is gone from it.
func TestWaitingRoomDenyOrderAndDeparture(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	w := watchEvents(t, srv, "visit")
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	var waiting []*testutil.Client
	for _, id := range []string{"p3", "p1", "p2", "p4"} {
		waiting = append(waiting, srv.Join(t, "visit", id, preset("patient")))
		doctor.WaitFor(t, 5*time.Second, "participant_connected", id)
	}
	tok := testutil.JoinToken(t, "visit", "pest", preset("patient"))
	pest := srv.Join(t, "visit", "pest", testutil.WithToken(tok))
	doctor.WaitFor(t, 5*time.Second, "participant_connected", "pest")

	res, rerr := rpc(t, doctor, "deny", `{"identity":"pest","reason":"not on the list"}`)
	if rerr != nil || res["denied"] != "pest" {
		t.Fatalf("deny: %v %v", res, rerr)
	}
	if e := pest.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_USER_REJECTED.String() {
		t.Fatalf("the denied participant left with %q", e.Detail)
	}
	if _, err := srv.TryJoin(t, "visit", "pest", testutil.WithToken(tok)); err == nil {
		t.Fatal("the denied participant came back with its token")
	}
	e := w.find(t, events.ParticipantDenied)
	if e.Participant.GetIdentity() != "pest" || e.Actor.Identity != "doctor" || e.Reason != "not on the list" {
		t.Fatalf("participant_denied for %q by %+v (%q)", e.Participant.GetIdentity(), e.Actor, e.Reason)
	}

	// p1 leaves the queue.
	waiting[1].Room.Disconnect()
	doctor.WaitFor(t, 5*time.Second, "participant_disconnected", "p1")
	if e := w.find(t, events.ParticipantWaitingLeft); e.Participant.GetIdentity() != "p1" {
		t.Fatalf("participant_waiting_left for %q", e.Participant.GetIdentity())
	}
	res, rerr = rpc(t, doctor, "admitAll", `{}`)
	if rerr != nil {
		t.Fatalf("admitAll: %v", rerr)
	}
	got := res["admitted"].([]any)
	if len(got) != 3 || got[0] != "p3" || got[1] != "p2" || got[2] != "p4" {
		t.Fatalf("admitAll admitted %v; want p3, p2, p4 (the order of arrival)", got)
	}
	for _, id := range []string{"p3", "p2", "p4"} {
		if e := w.find(t, events.ParticipantAdmitted); e.Participant.GetIdentity() != id {
			t.Fatalf("participant_admitted for %q; want %q", e.Participant.GetIdentity(), id)
		}
	}
	for _, c := range []*testutil.Client{waiting[0], waiting[2], waiting[3]} {
		waitAttr(t, c, "usher.waiting", "")
	}
}

// Without a host, the waiting are told so and keep their place; a host's arrival
// tells them; in a room a host opens, the first host lets everyone in; a wait that
// lasts too long ends with USER_UNAVAILABLE.
func TestWaitingRoomWithoutHost(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		clinicPresets(c)
		c.Room.WaitingRoom.Timeout = 3 * time.Second
	}))
	patient := srv.Join(t, "visit", "patient", preset("patient"))
	if s := attrOf(patient)["usher.waiting_status"]; s != "no_host" {
		t.Fatalf("waiting_status with no host: %q", s)
	}
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	waitAttr(t, patient, "usher.waiting_status", "host_present")
	doctor.Room.Disconnect()
	waitAttr(t, patient, "usher.waiting_status", "no_host")
	if e := patient.WaitFor(t, 10*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_USER_UNAVAILABLE.String() {
		t.Fatalf("a wait that timed out ended with %q", e.Detail)
	}

	// A room the first host opens.
	if err := srv.Server.Rooms().SetWaitingRoom(context.Background(), "visit", roomWaiting(true, config.WaitHostOpens)); err != nil {
		t.Fatal(err)
	}
	a := srv.Join(t, "visit", "a")
	b := srv.Join(t, "visit", "b", preset("patient"))
	waitAttr(t, a, "usher.waiting", "true")
	srv.Join(t, "visit", "doctor2", preset("doctor"))
	for _, c := range []*testutil.Client{a, b} {
		waitAttr(t, c, "usher.waiting", "")
	}
	late := srv.Join(t, "visit", "late", preset("patient"))
	if attrOf(late)["usher.waiting"] != "" {
		t.Fatal("a latecomer waits in a room a host opened")
	}
}

// Waiting participants take no seat: a full room still holds them at the door, and
// admitting one into a full room fails with its own code.
func TestWaitingRoomSeats(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	if _, err := srv.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "visit", MaxParticipants: 2}); err != nil {
		t.Fatal(err)
	}
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	srv.Join(t, "visit", "nurse", preset("nurse"))
	srv.Join(t, "visit", "patient", preset("patient"))
	doctor.WaitFor(t, 5*time.Second, "participant_connected", "patient")
	_, rerr := rpc(t, doctor, "admit", `{"identity":"patient"}`)
	wantCode(t, "admitting into a full room", rerr, 1207)
}

func roomWaiting(enabled bool, mode string) room.WaitingSettings {
	return room.WaitingSettings{Enabled: enabled, Mode: mode}
}

// A waiting client that crafts its own signal messages gets nothing: its add_track
// is refused, its subscription to a track it learned of elsewhere brings no track,
// and its data reaches nobody. Its raw signal stream never names anyone else, and a
// resume leaves it waiting.
func TestWaitingClientCraftedRequestsAreRefused(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		clinicPresets(c)
		c.Signal.JoinTimeout = time.Hour // the raw client never connects its transports
	}))
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	nurse := srv.Join(t, "visit", "nurse", preset("nurse"))
	mp, _, vpub := publishMedia(t, nurse)
	defer mp.close()

	c := dialRaw(t, srv, testutil.JoinToken(t, "visit", "patient", preset("patient")), "")
	join, _ := c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	j := join.GetJoin()
	if len(j.OtherParticipants) != 0 || j.Room.GetMetadata() != "" || j.Room.GetNumParticipants() != 0 || j.Participant.Attributes["usher.waiting"] != "true" {
		t.Fatalf("the waiting client's join: others %d, room %+v, attributes %v", len(j.OtherParticipants), j.Room, j.Participant.Attributes)
	}
	doctor.WaitFor(t, 5*time.Second, "participant_connected", "patient")

	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
		Cid: "cam", Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_CAMERA,
	}}})
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{Subscription: &livekit.UpdateSubscription{
		TrackSids: []string{vpub.SID()}, Subscribe: true,
	}}})
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
		Attributes: map[string]string{"usher.waiting": ""},
	}}})
	// Everyone else's doings while it waits: a track, metadata, a room change.
	nurse.Room.LocalParticipant.SetMetadata("on duty")
	if err := srv.RoomClientUpdateRoomMetadata(t, "visit", "ward 4"); err != nil {
		t.Fatal(err)
	}
	srv.SignalBarrier(t, "visit", doctor, nurse)
	for _, r := range append(c.received(), c.barrier()...) {
		switch m := r.Message.(type) {
		case *livekit.SignalResponse_Join, *livekit.SignalResponse_RefreshToken, *livekit.SignalResponse_PongResp,
			*livekit.SignalResponse_RequestResponse, *livekit.SignalResponse_Offer, *livekit.SignalResponse_Trickle:
		case *livekit.SignalResponse_Update:
			for _, p := range m.Update.Participants {
				if p.Identity != "patient" {
					t.Errorf("the waiting client was told about %q", p.Identity)
				}
			}
		default:
			t.Errorf("the waiting client received %T: %v", m, r)
		}
	}
	if p := srv.Participant(t, "visit", "patient"); len(p.Tracks) != 0 || p.Attributes["usher.waiting"] != "true" {
		t.Fatalf("after the crafted requests the patient has tracks %v, attributes %v", p.Tracks, p.Attributes)
	}
	if doctor.Has("track_published", "patient") {
		t.Fatal("the doctor saw a track of the waiting patient")
	}

	// The connection drops and the session resumes: still waiting, still alone.
	sid := j.Participant.Sid
	_ = c.ws.Close()
	r := dialRaw(t, srv, testutil.JoinToken(t, "visit", "patient", preset("patient")), "reconnect=1&sid="+sid)
	r.await(5*time.Second, "reconnect", func(x *livekit.SignalResponse) bool { return x.GetReconnect() != nil })
	for _, x := range r.barrier() {
		if u := x.GetUpdate(); u != nil {
			for _, p := range u.Participants {
				if p.Identity != "patient" {
					t.Errorf("the resumed waiting client was told about %q", p.Identity)
				} else if p.Attributes["usher.waiting"] != "true" {
					t.Errorf("the resumed client is not waiting: %v", p.Attributes)
				}
			}
		}
		if ru := x.GetRoomUpdate(); ru != nil && (ru.Room.GetMetadata() != "" || ru.Room.GetNumParticipants() != 0) {
			t.Errorf("the resumed waiting client was shown the room %+v", ru.Room)
		}
	}
	if _, rerr := rpc(t, doctor, "admit", `{"identity":"patient"}`); rerr != nil {
		t.Fatalf("admitting the resumed patient: %v", rerr)
	}
	r.await(5*time.Second, "the admission", func(x *livekit.SignalResponse) bool {
		for _, p := range x.GetUpdate().GetParticipants() {
			if p.Identity == "patient" && p.Permission.GetCanPublish() && p.Attributes["usher.waiting"] == "" {
				return true
			}
		}
		return false
	})
}

// A backend manages the waiting room through usher.WaitingRoom: it sets a room to
// wait, lists the queue, admits, admits all and denies, as its actor.
func TestWaitingRoomFromABackend(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	if _, err := srv.RoomClient().CreateRoom(ctx10(t), &livekit.CreateRoomRequest{Name: "webinar"}); err != nil {
		t.Fatal(err)
	}
	w := watchEvents(t, srv, "webinar")
	call := func(method, body string, out any) int {
		t.Helper()
		return twirpJSON(t, srv, "usher.WaitingRoom/"+method, testutil.Token(t, "backend", &lkauth.VideoGrant{RoomAdmin: true, Room: "webinar"}), body, out)
	}
	var settings struct {
		Enabled bool   `json:"enabled"`
		Mode    string `json:"mode"`
		Message string `json:"message"`
	}
	if st := call("SetSettings", `{"room":"webinar","enabled":true,"message":"Starting soon"}`, &settings); st != 200 || !settings.Enabled || settings.Mode != "admit" {
		t.Fatalf("SetSettings: %d %+v", st, settings)
	}
	// Everyone without a host preset waits now, preset or not.
	a := srv.Join(t, "webinar", "a")
	b := srv.Join(t, "webinar", "b")
	c := srv.Join(t, "webinar", "c")
	for _, x := range []*testutil.Client{a, b, c} {
		if attrOf(x)["usher.waiting"] != "true" || attrOf(x)["usher.waiting_message"] != "Starting soon" {
			t.Fatalf("%s: %v", x.Identity, attrOf(x))
		}
	}
	var list struct {
		Waiting []struct {
			Identity string `json:"identity"`
		} `json:"waiting"`
	}
	if st := call("ListWaiting", `{"room":"webinar"}`, &list); st != 200 || len(list.Waiting) != 3 || list.Waiting[0].Identity != "a" || list.Waiting[2].Identity != "c" {
		t.Fatalf("ListWaiting: %d %+v", st, list)
	}
	if st := call("Deny", `{"room":"webinar","identity":"b","reason":"no ticket"}`, nil); st != 200 {
		t.Fatalf("Deny: %d", st)
	}
	if e := b.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_USER_REJECTED.String() {
		t.Fatalf("the denied participant left with %q", e.Detail)
	}
	if e := w.find(t, events.ParticipantDenied); e.Actor.Kind != events.ActorAdmin || e.Actor.Identity != "backend" {
		t.Fatalf("participant_denied by %+v", e.Actor)
	}
	var ids struct {
		Identities []string `json:"identities"`
	}
	if st := call("AdmitAll", `{"room":"webinar"}`, &ids); st != 200 || len(ids.Identities) != 2 || ids.Identities[0] != "a" {
		t.Fatalf("AdmitAll: %d %+v", st, ids)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return a.Room.GetParticipantByIdentity("c") != nil && c.Room.GetParticipantByIdentity("a") != nil
	}, "the admitted do not see each other")
	if st := call("Admit", `{"room":"webinar","identity":"a"}`, nil); st != 412 {
		t.Fatalf("admitting someone not waiting: HTTP %d", st)
	}
	if st := call("SetSettings", `{"room":"webinar","enabled":true,"mode":"lottery"}`, nil); st != 400 {
		t.Fatalf("an unknown mode: HTTP %d", st)
	}
	other := testutil.Token(t, "backend", &lkauth.VideoGrant{RoomAdmin: true, Room: "elsewhere"})
	if st := twirpJSON(t, srv, "usher.WaitingRoom/ListWaiting", other, `{"room":"webinar"}`, nil); st != 403 {
		t.Fatalf("an admin of another room listing the queue: HTTP %d", st)
	}
}

// Webhooks: a LiveKit receiver hears of a waiting participant only once it is admitted
// (participant_joined), and never of one denied; a moderation receiver gets the waiting
// room's events, with the host who acted.
func TestWaitingRoomWebhooks(t *testing.T) {
	lk := testutil.NewWebhookReceiver(t)
	mod := testutil.NewWebhookReceiver(t)
	srv := testutil.StartServer(t, withWebhooks([]string{lk.URL}, []string{mod.URL}), testutil.WithConfig(clinicPresets))
	bus := recordBus(t, srv)
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	srv.Join(t, "visit", "pat", preset("patient"))
	srv.Join(t, "visit", "sam", preset("patient"))
	doctor.WaitFor(t, 5*time.Second, "participant_connected", "sam")
	if _, rerr := rpc(t, doctor, "admit", `{"identity":"pat"}`); rerr != nil {
		t.Fatal(rerr)
	}
	if _, rerr := rpc(t, doctor, "deny", `{"identity":"sam","reason":"no appointment"}`); rerr != nil {
		t.Fatal(rerr)
	}
	if _, err := srv.RoomClient().DeleteRoom(ctx10(t), &livekit.DeleteRoomRequest{Room: "visit"}); err != nil {
		t.Fatal(err)
	}
	all := bus.until(t, "room_finished", roomFinished("visit"))
	want := testutil.LiveKitEvents(all)
	for _, e := range want {
		if e.Participant.GetIdentity() == "sam" {
			t.Errorf("the LiveKit receiver is sent %s about the denied participant", e.Kind)
		}
	}
	testutil.CheckWebhooks(t, "LiveKit receiver", lk.WaitAccepted(webhookWait, len(want)), want, false)
	got := mod.WaitAccepted(webhookWait, len(all))
	testutil.CheckWebhooks(t, "moderation receiver", got, all, true)
	seen := map[string]bool{}
	for _, g := range got {
		switch g.Event.Event {
		case string(events.ParticipantAdmitted), string(events.ParticipantDenied):
			if g.Ext.Actor.Kind != events.ActorParticipant || g.Ext.Actor.Identity != "doctor" {
				t.Errorf("%s by %+v", g.Event.Event, g.Ext.Actor)
			}
		}
		seen[g.Event.Event+" "+g.Event.Participant.GetIdentity()] = true
	}
	for _, w := range []string{"participant_waiting pat", "participant_waiting sam", "participant_admitted pat", "participant_joined pat", "participant_denied sam"} {
		if !seen[w] {
			t.Errorf("the moderation receiver got no %s (%v)", w, seen)
		}
	}
	if seen["participant_joined sam"] || seen["participant_left sam"] {
		t.Errorf("LiveKit's join or leave events for the denied participant: %v", seen)
	}
}

// An admin's change to a waiting participant's permission applies once it is admitted,
// not before; giving it a host preset lets it in at once.
func TestWaitingParticipantUpdatedByAnAdmin(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(clinicPresets))
	rc := srv.RoomClient()
	doctor := srv.Join(t, "visit", "doctor", preset("doctor"))
	pat := srv.Join(t, "visit", "pat", preset("patient"))
	res, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "visit", Identity: "pat",
		Permission: &livekit.ParticipantPermission{CanSubscribe: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Permission.GetCanSubscribe() {
		t.Fatalf("a waiting participant got the permission before it was admitted: %+v", res.Permission)
	}
	if _, rerr := rpc(t, doctor, "admit", `{"identity":"pat"}`); rerr != nil {
		t.Fatal(rerr)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		p := pat.Room.LocalParticipant.Permissions()
		return p.GetCanSubscribe() && !p.GetCanPublish()
	}, "the admitted participant does not have the permission the admin set while it waited")

	sam := srv.Join(t, "visit", "sam", preset("patient"))
	if _, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "visit", Identity: "sam",
		Attributes: map[string]string{"usher.preset": "doctor"}}); err != nil {
		t.Fatal(err)
	}
	waitAttr(t, sam, "usher.waiting", "")
	testutil.Eventually(t, 5*time.Second, func() bool { return sam.Room.GetParticipantByIdentity("pat") != nil }, "the new host does not see the room")
}

package test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	twirpapi "github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/testutil"
)

// classPresets are the presets of the host-control tests: a host with every control,
// and students who publish their camera and microphone.
func classPresets(c *config.Config) {
	c.Presets = map[string]config.PresetConfig{
		"host": {CanPublish: true, CanSubscribe: true, CanPublishData: true, Host: config.HostControls{
			DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true,
		}},
		"student": {CanPublish: true, CanPublishSources: []string{"microphone", "camera"}, CanSubscribe: true, CanPublishData: true},
	}
}

func preset(name string) testutil.JoinOption {
	return testutil.WithAttributes(map[string]string{"usher.preset": name})
}

// rpc calls a host control on the server; it returns the decoded response, or the
// RPC error.
func rpc(t *testing.T, c *testutil.Client, method, payload string) (map[string]any, *lksdk.RpcError) {
	t.Helper()
	// The SDK's PerformRpc drops the request silently (and then times out) when its
	// publisher connection is not up in time, which a client that never published has
	// not brought up yet (slow under -race on two cores): bring it up first with a data
	// packet to no one, which reports such an error.
	if err := c.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("warm-up")),
		lksdk.WithDataPublishReliable(true), lksdk.WithDataPublishDestination([]string{"usher"})); err != nil {
		t.Fatalf("%s: bringing up the publisher connection: %v", method, err)
	}
	res, err := c.Room.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{DestinationIdentity: "usher", Method: method, Payload: payload})
	if err != nil {
		var re *lksdk.RpcError
		if errors.As(err, &re) {
			return nil, re
		}
		t.Fatalf("%s: %v", method, err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(*res), &out); err != nil {
		t.Fatalf("%s answered %q: %v", method, *res, err)
	}
	return out, nil
}

func wantCode(t *testing.T, what string, err *lksdk.RpcError, code int) {
	t.Helper()
	if err == nil || int(err.Code) != code {
		t.Fatalf("%s: error %v; want code %d", what, err, code)
	}
}

// A host mutes a student through RPC to "usher": the server mutes the track, everyone
// sees it, the student's SDK mutes itself; a student has no such power (1201); bad
// calls get their own codes.
func TestHostMutesAStudentOverRPC(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	w := watchEvents(t, srv, "class")
	host := srv.Join(t, "class", "teacher", preset("host"))
	student := srv.Join(t, "class", "student", preset("student"))
	mp, apub, _ := publishMedia(t, student)
	defer mp.close()
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "class", "student").Tracks) == 2 }, "not published")

	// Everyone sees who holds which preset, and each its host controls.
	hp := srv.Participant(t, "class", "teacher")
	var perms map[string]bool
	if err := json.Unmarshal([]byte(hp.Attributes["usher.permissions"]), &perms); err != nil || !perms["disable_participant_audio"] || perms["end_session"] {
		t.Fatalf("teacher's usher.permissions %q", hp.Attributes["usher.permissions"])
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		rp := student.Room.GetParticipantByIdentity("teacher")
		return rp != nil && rp.Attributes()["usher.preset"] == "host"
	}, "the student does not see that the teacher is a host")

	res, rerr := rpc(t, host, "disableAudio", `{"identity":"student"}`)
	if rerr != nil {
		t.Fatalf("disableAudio: %v", rerr)
	}
	if tr, _ := res["tracks"].([]any); len(tr) != 1 || tr[0] != apub.SID() {
		t.Fatalf("disableAudio muted %v; want [%s]", res["tracks"], apub.SID())
	}
	host.WaitForDetail(t, 5*time.Second, "track_muted", apub.SID())
	testutil.Eventually(t, 5*time.Second, func() bool { return apub.IsMuted() }, "the student's SDK does not show itself muted")
	if tr := srv.Participant(t, "class", "student").Tracks; !tr[0].Muted && !tr[1].Muted {
		t.Fatal("the server did not mute the track")
	}
	e := w.find(t, events.TrackMuted)
	if e.Actor.Identity != "teacher" || e.Track.GetSid() != apub.SID() {
		t.Fatalf("track_muted by %+v for %s", e.Actor, e.Track.GetSid())
	}

	// The seed's 1201, and the other refusals.
	_, rerr = rpc(t, student, "disableAudio", `{"identity":"teacher"}`)
	wantCode(t, "a student's disableAudio", rerr, 1201)
	_, rerr = rpc(t, host, "disableAudio", `{"identity":"nobody"}`)
	wantCode(t, "disableAudio of nobody", rerr, 1202)
	_, rerr = rpc(t, host, "disableAudio", `{"who":"student"}`)
	wantCode(t, "disableAudio with a bad payload", rerr, 1203)
	_, rerr = rpc(t, host, "kick", `{"identity":"teacher"}`)
	wantCode(t, "kicking oneself", rerr, 1204)
	_, rerr = rpc(t, host, "explode", `{}`)
	wantCode(t, "an unknown method", rerr, 1400)
}

// A hard mute holds: the student cannot unmute itself until a host allows it.
func TestHardMuteHoldsUntilAHostLiftsIt(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	host := srv.Join(t, "class", "teacher", preset("host"))
	student := srv.Join(t, "class", "student", preset("student"))
	mp, apub, vpub := publishMedia(t, student)
	defer mp.close()
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "class", "student").Tracks) == 2 }, "not published")
	audioMuted := func() bool {
		for _, tr := range srv.Participant(t, "class", "student").Tracks {
			if tr.Sid == apub.SID() {
				return tr.Muted
			}
		}
		return false
	}

	res, rerr := rpc(t, host, "disableAllAudio", `{"allowUnmute":false}`)
	if rerr != nil {
		t.Fatalf("disableAllAudio: %v", rerr)
	}
	if ids, _ := res["identities"].([]any); len(ids) != 2 {
		t.Fatalf("disableAllAudio reached %v; want the teacher and the student", res["identities"])
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return audioMuted() && srv.Participant(t, "class", "student").Attributes["usher.audio_locked"] == "true"
	}, "the student is not hard-muted")

	// The SDK's unmute is refused: the track stays muted on the server and for others,
	// and the server tells the SDK to show it muted again. (The student's next request,
	// a mute of its camera, which it may do, shows the refused one was handled.)
	apub.SetMuted(false)
	vpub.SetMuted(true)
	host.WaitForDetail(t, 5*time.Second, "track_muted", vpub.SID())
	if !audioMuted() {
		t.Fatal("the student unmuted itself through a hard mute")
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return apub.IsMuted() }, "the student's SDK does not show the hard mute again")

	if _, rerr := rpc(t, host, "enableAudio", `{"identity":"student"}`); rerr != nil {
		t.Fatalf("enableAudio: %v", rerr)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		_, locked := srv.Participant(t, "class", "student").Attributes["usher.audio_locked"]
		return !locked
	}, "the hard mute was not lifted")
	apub.SetMuted(false)
	testutil.Eventually(t, 5*time.Second, func() bool { return !audioMuted() }, "the student could not unmute after the host allowed it")
}

// One participant is pinned at a time; pinning another unpins the first; everyone sees
// it as the reserved attribute usher.pinned.
func TestPinIsSessionWideAndSingle(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	host := srv.Join(t, "class", "teacher", preset("host"))
	a := srv.Join(t, "class", "a", preset("student"))
	srv.Join(t, "class", "b", preset("student"))
	if _, rerr := rpc(t, host, "pin", `{"identity":"a"}`); rerr != nil {
		t.Fatalf("pin a: %v", rerr)
	}
	a.WaitFor(t, 5*time.Second, "attributes_changed", "a") // a learns it is pinned
	res, rerr := rpc(t, host, "pin", `{"identity":"b"}`)
	if rerr != nil || res["unpinned"] != "a" {
		t.Fatalf("pin b: %v %v; want a unpinned", res, rerr)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		ra, rb := host.Room.GetParticipantByIdentity("a"), host.Room.GetParticipantByIdentity("b")
		return ra != nil && rb != nil && ra.Attributes()["usher.pinned"] == "" && rb.Attributes()["usher.pinned"] == "true"
	}, "the host does not see b pinned and a unpinned")
	_, rerr = rpc(t, a, "pin", `{"identity":"a"}`)
	wantCode(t, "a student's pin", rerr, 1201)
}

// Kick removes one for good; kickAll ends the session for everyone, the host included.
func TestKickAndKickAll(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	host := srv.Join(t, "class", "teacher", preset("host"))
	tok := testutil.JoinToken(t, "class", "troll", preset("student"))
	troll := srv.Join(t, "class", "troll", testutil.WithToken(tok))
	other := srv.Join(t, "class", "student", preset("student"))
	if _, rerr := rpc(t, host, "kick", `{"identity":"troll"}`); rerr != nil {
		t.Fatalf("kick: %v", rerr)
	}
	if e := troll.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
		t.Fatalf("the kicked participant left with %q", e.Detail)
	}
	if _, err := srv.TryJoin(t, "class", "troll", testutil.WithToken(tok)); err == nil {
		t.Fatal("the kicked participant came back with its token")
	}
	if _, rerr := rpc(t, host, "kickAll", `{}`); rerr != nil {
		t.Fatalf("kickAll: %v", rerr)
	}
	for _, c := range []*testutil.Client{host, other} {
		if e := c.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_ROOM_DELETED.String() {
			t.Fatalf("kickAll: a participant left with %q", e.Detail)
		}
	}
}

// A preset comes from the signed token; a client can never give itself one, and a
// token naming an unknown preset, or the identity "usher", is refused.
func TestPresetsComeFromTheTokenOnly(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	if _, err := srv.TryJoin(t, "class", "x", preset("admiral")); err == nil {
		t.Fatal("a token naming an unknown preset joined")
	}
	if _, err := srv.TryJoin(t, "class", "usher", preset("student")); err == nil {
		t.Fatal("a participant joined as usher")
	}
	sneaky := srv.Join(t, "class", "sneaky", testutil.WithGrant(&lkauth.VideoGrant{CanUpdateOwnMetadata: ptr(true)}))
	sneaky.Room.LocalParticipant.SetAttributes(map[string]string{"usher.preset": "host"})
	sneaky.Room.LocalParticipant.SetAttributes(map[string]string{"seat": "4"}) // allowed, after the forbidden one
	testutil.Eventually(t, 5*time.Second, func() bool { return srv.Participant(t, "class", "sneaky").Attributes["seat"] == "4" }, "the allowed update did not land")
	if p := srv.Participant(t, "class", "sneaky"); p.Attributes["usher.preset"] != "" {
		t.Fatalf("a client gave itself preset %q", p.Attributes["usher.preset"])
	}
	_, rerr := rpc(t, sneaky, "disableAllAudio", `{"allowUnmute":true}`)
	wantCode(t, "a participant without a preset", rerr, 1201)
}

// A hard-muted participant who reconnects with its join token is still hard-muted.
func TestHardMuteSurvivesARejoin(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	host := srv.Join(t, "class", "teacher", preset("host"))
	tok := testutil.JoinToken(t, "class", "student", preset("student"))
	student := srv.Join(t, "class", "student", testutil.WithToken(tok))
	if _, rerr := rpc(t, host, "disableAudio", `{"identity":"student","allowUnmute":false}`); rerr != nil {
		t.Fatalf("disableAudio: %v", rerr)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return srv.Participant(t, "class", "student").Attributes["usher.audio_locked"] == "true"
	}, "not hard-muted")
	student.Room.Disconnect()
	again := srv.Join(t, "class", "student", testutil.WithToken(tok))
	if v := srv.Participant(t, "class", "student").Attributes["usher.audio_locked"]; v != "true" {
		t.Fatalf("after a rejoin usher.audio_locked is %q; the hard mute was lifted", v)
	}
	pub, err := again.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		tr := srv.Participant(t, "class", "student").Tracks
		return len(tr) == 1 && tr[0].Sid == pub.SID() && tr[0].Muted
	}, "a microphone published under a hard mute is not muted")
}

// A backend has the same controls in bulk (usher.HostControls): mute everyone but the
// hosts, pin, and remove everyone but the hosts, each an event with the admin as actor.
func TestBackendHostControlsInBulk(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(classPresets))
	srv.Join(t, "class", "teacher", preset("host"))
	s1 := srv.Join(t, "class", "s1", preset("student"))
	s2 := srv.Join(t, "class", "s2", preset("student"))
	var pubs []string
	for _, c := range []*testutil.Client{s1, s2} {
		pub, err := c.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, pub.SID())
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return len(srv.Participant(t, "class", "s1").Tracks) == 1 && len(srv.Participant(t, "class", "s2").Tracks) == 1
	}, "not published")
	w := watchEvents(t, srv, "class")
	tok := testutil.Token(t, "backend", &lkauth.VideoGrant{RoomAdmin: true, Room: "class"})
	call := func(method, body string, out any) int {
		t.Helper()
		return twirpJSON(t, srv, "usher.HostControls/"+method, tok, body, out)
	}
	var ids IdentitiesJSON
	if st := call("DisableAll", `{"room":"class","kind":"audio","allow_unmute":false,"except_hosts":true}`, &ids); st != http.StatusOK || len(ids.Identities) != 2 {
		t.Fatalf("DisableAll: %d %v; want s1 and s2", st, ids.Identities)
	}
	for _, sid := range pubs {
		e := w.find(t, events.TrackMuted)
		if e.Actor.Kind != events.ActorAdmin || e.Actor.Identity != "backend" {
			t.Fatalf("track_muted %s by %+v", sid, e.Actor)
		}
	}
	if v := srv.Participant(t, "class", "s1").Attributes["usher.audio_locked"]; v != "true" {
		t.Fatalf("s1 usher.audio_locked %q", v)
	}
	if st := call("Pin", `{"room":"class","identity":"s2"}`, nil); st != http.StatusOK {
		t.Fatalf("Pin: %d", st)
	}
	if v := srv.Participant(t, "class", "s2").Attributes["usher.pinned"]; v != "true" {
		t.Fatalf("s2 usher.pinned %q", v)
	}
	if st := call("DisableAll", `{"room":"class","kind":"smell"}`, nil); st != http.StatusBadRequest {
		t.Fatalf("a bad kind: %d; want 400", st)
	}
	if st := call("RemoveParticipants", `{"room":"class","except_hosts":true}`, &ids); st != http.StatusOK || len(ids.Identities) != 2 {
		t.Fatalf("RemoveParticipants: %d %v; want s1 and s2", st, ids.Identities)
	}
	for _, c := range []*testutil.Client{s1, s2} {
		if e := c.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != livekit.DisconnectReason_PARTICIPANT_REMOVED.String() {
			t.Fatalf("removed with %q", e.Detail)
		}
	}
	if _, err := srv.RoomClient().GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "class", Identity: "teacher"}); err != nil {
		t.Fatalf("the host was removed too: %v", err)
	}
}

// IdentitiesJSON is the answer of the bulk host controls.
type IdentitiesJSON struct {
	Identities []string `json:"identities"`
}

// A client that ignores its SDK and sends its own mute request cannot lift a hard mute
// either: the request is refused (NOT_ALLOWED) and the server tells it to mute again.
func TestHardMuteRefusesARawUnmute(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		classPresets(c)
		c.Signal.JoinTimeout = time.Hour // the raw client never connects its transports
	}))
	host := srv.Join(t, "class", "teacher", preset("host"))
	c := dialRaw(t, srv, testutil.JoinToken(t, "class", "student", preset("student")), "")
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
		Cid: "mic", Type: livekit.TrackType_AUDIO, Source: livekit.TrackSource_MICROPHONE,
	}}})
	pub, _ := c.await(5*time.Second, "track_published", func(r *livekit.SignalResponse) bool { return r.GetTrackPublished() != nil })
	sid := pub.GetTrackPublished().GetTrack().GetSid()
	testutil.Eventually(t, 5*time.Second, func() bool {
		return host.Room.GetParticipantByIdentity("student") != nil
	}, "the host does not see the student")
	if _, rerr := rpc(t, host, "disableAudio", `{"identity":"student","allowUnmute":false}`); rerr != nil {
		t.Fatalf("disableAudio: %v", rerr)
	}
	c.await(5*time.Second, "the host's mute", func(r *livekit.SignalResponse) bool {
		return r.GetMute().GetSid() == sid && r.GetMute().GetMuted()
	})
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Mute{Mute: &livekit.MuteTrackRequest{Sid: sid, Muted: false}}})
	// The server answers with the mute again, then the refusal.
	var muted bool
	res, _ := c.await(5*time.Second, "the refusal", func(r *livekit.SignalResponse) bool {
		muted = muted || r.GetMute().GetSid() == sid && r.GetMute().GetMuted()
		return r.GetRequestResponse() != nil
	})
	if rr := res.GetRequestResponse(); rr.Reason != livekit.RequestResponse_NOT_ALLOWED || rr.GetMute().GetSid() != sid || !muted {
		t.Fatalf("the raw unmute was answered %v (mute sent again: %v)", rr, muted)
	}
	if v := srv.Participant(t, "class", "student").Attributes["usher.audio_locked"]; v != "true" {
		t.Fatalf("usher.audio_locked %q after the raw unmute", v)
	}
}

// A host whose preset has ban_participant bans over RPC: the target leaves with
// PARTICIPANT_REMOVED, any token of its identity is refused for the room, the ban
// names the host as its author, and a host without the control gets 1201.
func TestHostBansOverRPC(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		classPresets(c)
		c.Presets["moderator"] = config.PresetConfig{CanSubscribe: true, CanPublishData: true, Host: config.HostControls{BanParticipant: true}}
	}))
	w := watchEvents(t, srv, "class")
	mod := srv.Join(t, "class", "mod", preset("moderator"))
	teacher := srv.Join(t, "class", "teacher", preset("host"))
	troll := srv.Join(t, "class", "troll", preset("student"))

	_, rerr := rpc(t, teacher, "ban", `{"identity":"troll"}`)
	wantCode(t, "a host without ban_participant", rerr, 1201)
	_, rerr = rpc(t, mod, "ban", `{"identity":"mod"}`)
	wantCode(t, "banning oneself", rerr, 1204)
	_, rerr = rpc(t, mod, "ban", `{"identity":"nobody"}`)
	wantCode(t, "banning a stranger", rerr, 1202)
	_, rerr = rpc(t, mod, "ban", `{"identity":"troll","durationSeconds":-5}`)
	wantCode(t, "a negative duration", rerr, 1203)

	res, rerr := rpc(t, mod, "ban", `{"identity":"troll","reason":"spamming the chat","durationSeconds":3600}`)
	if rerr != nil || res["banned"] != "troll" {
		t.Fatalf("ban: %v %v", res, rerr)
	}
	if e := troll.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("the banned participant left with %s", e.Detail)
	}
	fresh := joinTokenFor(t, "class", "troll", time.Hour)
	if status, body := rawDial(t, srv, fresh, ""); status != http.StatusForbidden || !strings.Contains(body, "spamming the chat") {
		t.Errorf("a fresh token of the banned identity: %d %q", status, body)
	}
	list, err := moderation(srv).ListBans(ctx10(t), &twirpapi.ListBansRequest{Room: "class"})
	if err != nil || len(list.Bans) != 1 || list.Bans[0].CreatedBy != "participant mod in class" || list.Bans[0].ExpiresAt == "" {
		t.Errorf("ListBans = %+v %v", list, err)
	}
	e := w.find(t, events.ParticipantBanned)
	if e.Participant.GetIdentity() != "troll" || e.Actor.Kind != events.ActorParticipant || e.Actor.Identity != "mod" || e.Reason != "spamming the chat" {
		t.Errorf("participant_banned for %q by %+v (%q)", e.Participant.GetIdentity(), e.Actor, e.Reason)
	}
}

package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

func ctx10(t *testing.T) context.Context { return testutil.Context(t, 10*time.Second) }

func TestListAndGetParticipants(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	a := srv.Join(t, "class", "alice", testutil.WithName("Alice"), testutil.WithMetadata(`{"role":"teacher"}`),
		testutil.WithAttributes(map[string]string{"desk": "1"}))
	srv.Join(t, "class", "observer", testutil.WithGrant(&lkauth.VideoGrant{Hidden: true}))
	srv.Join(t, "class", "bot", testutil.WithKind(livekit.ParticipantInfo_AGENT))
	pub, err := a.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, srv, "class", "alice", "observer", "bot")
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "class", "alice").Tracks) == 1 }, "track not listed")

	// The seed's snippet.
	res, err := rc.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "class"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Participants) != 3 {
		t.Fatalf("listed %d participants, want 3 (the hidden one included): %v", len(res.Participants), res.Participants)
	}
	byID := map[string]*livekit.ParticipantInfo{}
	for _, p := range res.Participants {
		byID[p.Identity] = p
	}
	al := byID["alice"]
	if al == nil || al.Name != "Alice" || al.Metadata != `{"role":"teacher"}` || al.Attributes["desk"] != "1" ||
		al.State != livekit.ParticipantInfo_ACTIVE || al.Kind != livekit.ParticipantInfo_STANDARD || al.JoinedAt == 0 ||
		!al.IsPublisher || !strings.HasPrefix(al.Sid, "PA_") || al.Permission == nil || !al.Permission.CanPublish {
		t.Errorf("alice: %v", al)
	}
	if len(al.Tracks) != 1 || al.Tracks[0].Sid != pub.SID() || al.Tracks[0].Name != "mic" || al.Tracks[0].Type != livekit.TrackType_AUDIO ||
		al.Tracks[0].Source != livekit.TrackSource_MICROPHONE || al.Tracks[0].MimeType != "audio/opus" {
		t.Errorf("alice's tracks: %v", al.Tracks)
	}
	if !byID["observer"].GetPermission().GetHidden() {
		t.Errorf("observer: %v", byID["observer"])
	}
	if byID["bot"].GetKind() != livekit.ParticipantInfo_AGENT {
		t.Errorf("bot: %v", byID["bot"])
	}

	// The seed's GetParticipant snippet.
	got, err := rc.GetParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: "class", Identity: "alice"})
	if err != nil || got.Sid != al.Sid || len(got.Tracks) != 1 {
		t.Fatalf("GetParticipant: %v %v", got, err)
	}

	// Errors.
	_, err = rc.ListParticipants(ctx10(t), &livekit.ListParticipantsRequest{Room: "nope"})
	if code := twirpCode(t, err); code != twirp.NotFound {
		t.Errorf("unknown room: %s", code)
	}
	_, err = rc.GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "class", Identity: "nobody"})
	if code := twirpCode(t, err); code != twirp.NotFound || !strings.Contains(err.Error(), `"nobody" is not in room "class"`) {
		t.Errorf("unknown identity: %v", err)
	}
	_, err = rc.GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "class"})
	if code := twirpCode(t, err); code != twirp.InvalidArgument {
		t.Errorf("empty identity: %v", err)
	}
	// The participant management guide lists participants with a roomList token.
	r := post(t, srv.URL, "ListParticipants", "application/json", testutil.Token(t, "x", &lkauth.VideoGrant{RoomList: true}), []byte(`{"room":"class"}`))
	if r.status != 200 || !strings.Contains(string(r.body), `"alice"`) {
		t.Errorf("ListParticipants with roomList: %d %s", r.status, r.body)
	}
	r = post(t, srv.URL, "ListParticipants", "application/json", testutil.Token(t, "x", &lkauth.VideoGrant{RoomAdmin: true, Room: "other"}), []byte(`{"room":"class"}`))
	if r.status != 403 {
		t.Errorf("ListParticipants with another room's admin grant: %d %s", r.status, r.body)
	}
}

func TestUpdateMetadataNameAttributes(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	a := srv.Join(t, "r", "a", testutil.WithAttributes(map[string]string{"keep": "1", "drop": "2"}))
	b := srv.Join(t, "r", "b")
	hidden := srv.Join(t, "r", "h", testutil.WithGrant(&lkauth.VideoGrant{Hidden: true}))
	waitActive(t, srv, "r", "a", "b", "h")

	// The seed's snippet: metadata as JSON.
	data, _ := json.Marshal(map[string]any{"hand": "raised"})
	info, err := rc.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Metadata: string(data)})
	if err != nil || info.Metadata != string(data) {
		t.Fatalf("UpdateParticipant: %v %v", info, err)
	}
	if e := b.WaitFor(t, 5*time.Second, "metadata_changed", "a"); e.Detail != string(data) {
		t.Errorf("b saw metadata %q", e.Detail)
	}
	if e := a.WaitFor(t, 5*time.Second, "metadata_changed", "a"); e.Detail != string(data) {
		t.Errorf("a itself saw metadata %q", e.Detail)
	}
	hidden.WaitFor(t, 5*time.Second, "metadata_changed", "a")

	// Name and attributes: attributes merge, an empty value deletes.
	_, err = rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Name: "Ada",
		Attributes: map[string]string{"drop": "", "new": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := b.Await(5*time.Second, func(e testutil.Event) bool {
		return e.Kind == "attributes_changed" && e.Identity == "a" && strings.Contains(e.Detail, "new=3")
	})
	if !ok || !strings.Contains(e.Detail, "drop=") {
		t.Errorf("attributes change seen: %v %q", ok, e.Detail)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		rp := b.Room.GetParticipantByIdentity("a")
		return rp != nil && rp.Name() == "Ada" && rp.Attributes()["keep"] == "1" && rp.Attributes()["new"] == "3" && rp.Attributes()["drop"] == ""
	}, "b does not see a's new name and attributes")

	// An update of a hidden participant reaches only themselves.
	if _, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "h", Metadata: "secret"}); err != nil {
		t.Fatal(err)
	}
	hidden.WaitFor(t, 5*time.Second, "metadata_changed", "h")
	// The update was sent (or not) before UpdateParticipant returned. b's SDK, had it
	// been told, would hold h as a new remote participant after the barrier.
	srv.SignalBarrier(t, "r", b)
	if b.Room.GetParticipantByIdentity("h") != nil || slices.ContainsFunc(b.Events(), func(e testutil.Event) bool { return e.Identity == "h" }) {
		t.Errorf("b heard about the hidden participant: %v", b.Events())
	}

	// Errors, each with a clear message; nothing changes.
	cases := []struct {
		req  *livekit.UpdateParticipantRequest
		code twirp.ErrorCode
		msg  string
	}{
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "a"}, twirp.InvalidArgument, "at least one of"},
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Name: strings.Repeat("n", 257)}, twirp.InvalidArgument, "name is 257 bytes"},
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Metadata: strings.Repeat("m", 64001)}, twirp.InvalidArgument, "metadata is 64001 bytes"},
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Attributes: map[string]string{"big": strings.Repeat("x", 64000)}}, twirp.InvalidArgument, "attributes are"},
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "a", Attributes: map[string]string{"": "x"}}, twirp.InvalidArgument, "attribute key is empty"},
		{&livekit.UpdateParticipantRequest{Room: "r", Identity: "zed", Metadata: "x"}, twirp.NotFound, `"zed" is not in room "r"`},
		{&livekit.UpdateParticipantRequest{Room: "nope", Identity: "a", Metadata: "x"}, twirp.NotFound, "room not found"},
	}
	for _, tc := range cases {
		_, err := rc.UpdateParticipant(ctx10(t), tc.req)
		if code := twirpCode(t, err); code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want %s mentioning %q", tc.req, err, tc.code, tc.msg)
		}
	}
	if got := srv.Participant(t, "r", "a"); got.Name != "Ada" || got.Metadata != string(data) {
		t.Errorf("a failed update changed state: %v", got)
	}
}

func audienceGrant() *lkauth.VideoGrant {
	g := &lkauth.VideoGrant{}
	g.SetCanPublish(false)
	g.SetCanSubscribe(true)
	return g
}

func TestPromoteAndDemote(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		c := srv.RoomClient()
		roomName, identity := "webinar", "guest"
		host := srv.Join(t, roomName, "host")
		guest := srv.Join(t, roomName, identity, append(mode, testutil.WithGrant(audienceGrant()))...)
		waitActive(t, srv, roomName, "host", identity)
		if guest.Room.LocalParticipant.Permissions().CanPublish {
			t.Fatal("the audience member can publish from the start")
		}

		// The seed's snippet: promote an audience member to a speaker.
		res, err := c.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{
			Room:     roomName,
			Identity: identity,
			Permission: &livekit.ParticipantPermission{
				CanSubscribe:   true,
				CanPublish:     true,
				CanPublishData: true,
			},
		})
		if err != nil || !res.Permission.CanPublish {
			t.Fatalf("promote: %v %v", res, err)
		}
		testutil.Eventually(t, 5*time.Second, func() bool { return guest.Room.LocalParticipant.Permissions().GetCanPublish() },
			"the guest's SDK does not see the new permission")
		// Publishing works at once, without reconnecting.
		pub, err := guest.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
		if err != nil {
			t.Fatalf("publish after promotion: %v", err)
		}
		host.WaitFor(t, 5*time.Second, "track_published", identity)

		// ...and later revokes their publishing permissions as speaker.
		_, err = c.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{
			Room:     roomName,
			Identity: identity,
			Permission: &livekit.ParticipantPermission{
				CanSubscribe:   true,
				CanPublish:     false,
				CanPublishData: true,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		// The guest's SDK is told to unpublish; everyone sees the track go.
		if e := guest.WaitFor(t, 5*time.Second, "local_track_unpublished", identity); e.Detail != pub.SID() {
			t.Errorf("guest unpublished %s, want %s", e.Detail, pub.SID())
		}
		if e := host.WaitFor(t, 5*time.Second, "track_unpublished", identity); e.Detail != pub.SID() {
			t.Errorf("host saw %s unpublished", e.Detail)
		}
		if n := len(srv.Participant(t, roomName, identity).Tracks); n != 0 {
			t.Errorf("server still lists %d tracks", n)
		}
		// A disconnect would have been sent with the change: a barrier after it shows
		// none was.
		srv.SignalBarrier(t, roomName, guest)
		if guest.Has("disconnected", "") {
			t.Errorf("the guest was disconnected by a permission change")
		}
	})
}

func TestPublishSourcesAndDataPermission(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	viewer := srv.Join(t, "r", "viewer")
	p := srv.Join(t, "r", "p")
	waitActive(t, srv, "r", "viewer", "p")
	mic, err := p.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := p.Room.LocalParticipant.PublishTrack(newVideoTrack(t), &lksdk.TrackPublicationOptions{Name: "cam"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "r", "p").Tracks) == 2 }, "tracks not published")

	// Only the microphone stays allowed, and data is no longer.
	_, err = rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "p", Permission: &livekit.ParticipantPermission{
		CanPublish: true, CanSubscribe: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := viewer.WaitFor(t, 5*time.Second, "track_unpublished", "p"); e.Detail != cam.SID() {
		t.Errorf("unpublished %s, want the camera %s", e.Detail, cam.SID())
	}
	tracks := srv.Participant(t, "r", "p").Tracks
	if len(tracks) != 1 || tracks[0].Sid != mic.SID() {
		t.Errorf("remaining tracks %v, want the microphone", tracks)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return !p.Room.LocalParticipant.Permissions().GetCanPublishData() },
		"p's SDK does not see the data permission change")
	// Nothing outside the server shows that it refused a packet but its log: wait for
	// that line rather than for a guessed time.
	dropped := srv.WatchLog(func(r testutil.LogRecord) bool {
		return r.Message == "data packet dropped" && r.Attrs["identity"] == "p" && strings.Contains(r.Attrs["error"], "publish data")
	})
	_ = p.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("should not arrive")), lksdk.WithDataPublishReliable(true))
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatalf(`the server never logged "data packet dropped" for p's packet sent without can_publish_data; viewer saw %v`, viewer.Events())
	}
	// Data is allowed again and p sends on the same ordered channel: had the server
	// delivered the refused packet, it would reach viewer before this one.
	_, err = rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "p", Permission: &livekit.ParticipantPermission{
		CanPublish: true, CanSubscribe: true, CanPublishData: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE},
	}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Room.LocalParticipant.Permissions().GetCanPublishData() },
		"p's SDK does not see data allowed again")
	if err := p.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("allowed again")), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	if e := viewer.WaitFor(t, 5*time.Second, "data", "p"); e.Detail != "allowed again" {
		t.Errorf("data arrived from a participant without can_publish_data: %v", e)
	}
}

func TestHideAndShow(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	a := srv.Join(t, "r", "a")
	srv.Join(t, "r", "mod")
	waitActive(t, srv, "r", "a", "mod")
	hide := &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true, Hidden: true}
	if _, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "mod", Permission: hide}); err != nil {
		t.Fatal(err)
	}
	a.WaitFor(t, 5*time.Second, "participant_disconnected", "mod")
	if n := roomInfo(t, srv, "r").NumParticipants; n != 1 {
		t.Errorf("num_participants with mod hidden = %d, want 1", n)
	}
	res, _ := rc.ListParticipants(ctx10(t), &livekit.ListParticipantsRequest{Room: "r"})
	if len(res.GetParticipants()) != 2 {
		t.Errorf("admins should still list the hidden participant: %v", res.GetParticipants())
	}
	show := &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true}
	if _, err := rc.UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "mod", Permission: show}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		n := 0
		for _, e := range a.Events() {
			if e.Kind == "participant_connected" && e.Identity == "mod" {
				n++
			}
		}
		return n >= 1 && a.Room.GetParticipantByIdentity("mod") != nil
	}, "a does not see mod again")
	if n := roomInfo(t, srv, "r").NumParticipants; n != 2 {
		t.Errorf("num_participants = %d, want 2", n)
	}
}

func TestPermissionChangeRevokesTokensAndPushesANewOne(t *testing.T) {
	srv := testutil.StartServer(t)
	joinTok := testutil.JoinToken(t, "r", "raw")
	c := dialRaw(t, srv, joinTok, "")
	first, _ := c.await(5*time.Second, "refresh_token", func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	_, err := srv.RoomClient().UpdateParticipant(ctx10(t), &livekit.UpdateParticipantRequest{Room: "r", Identity: "raw",
		Permission: &livekit.ParticipantPermission{CanSubscribe: true}})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := c.await(5*time.Second, "new refresh_token", func(r *livekit.SignalResponse) bool {
		return r.GetRefreshToken() != "" && r.GetRefreshToken() != first.GetRefreshToken()
	})
	claims, err := srv.Verifier().Verify(next.GetRefreshToken())
	if err != nil {
		t.Fatal(err)
	}
	if claims.Video().GetCanPublish() || !claims.Video().GetCanSubscribe() {
		t.Errorf("the pushed token carries the old grants: %+v", claims.Video())
	}
	// The old tokens no longer join; the new one validates.
	for name, tok := range map[string]string{"join token": joinTok, "first refresh": first.GetRefreshToken()} {
		if status, body := rawValidate(t, srv, tok, ""); status != 401 || !strings.Contains(body, "revoked") {
			t.Errorf("%s after a permission change: %d %q", name, status, body)
		}
	}
	if status, body := rawValidate(t, srv, next.GetRefreshToken(), ""); status != 200 {
		t.Errorf("the new token: %d %q", status, body)
	}
}

func TestRemoveParticipantSticks(t *testing.T) {
	dataDir := t.TempDir()
	withDir := testutil.WithConfig(func(c *config.Config) { c.DataDir = dataDir })
	srv := testutil.StartServer(t, withDir)
	tok := testutil.JoinToken(t, "r", "troll")
	watcher := srv.Join(t, "r", "watcher")
	troll := srv.Join(t, "r", "troll", testutil.WithToken(tok))
	waitActive(t, srv, "r", "troll")

	// The seed's snippet.
	_, err := srv.RoomClient().RemoveParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: "r", Identity: "troll"})
	if err != nil {
		t.Fatal(err)
	}
	// The removal happened before the call returned (perhaps in a later second than
	// the call began).
	removedAt := time.Now()
	if e := troll.WaitFor(t, 5*time.Second, "disconnected", ""); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("troll disconnected with %s", e.Detail)
	}
	if e := watcher.WaitFor(t, 5*time.Second, "participant_disconnected", "troll"); e.Detail != "PARTICIPANT_REMOVED" {
		t.Errorf("watcher saw reason %s", e.Detail)
	}
	// The same token cannot rejoin, with the SDK or raw.
	_, err = srv.TryJoin(t, "r", "troll", testutil.WithToken(tok))
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("rejoin with the removed token: %v", err)
	}
	if status, body := rawDial(t, srv, tok, ""); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("raw rejoin: %d %q", status, body)
	}
	// Removing again: not_found.
	_, err = srv.RoomClient().RemoveParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "r", Identity: "troll"})
	if code := twirpCode(t, err); code != twirp.NotFound {
		t.Errorf("second removal: %v", err)
	}

	// The revocation survives a restart with the same data directory.
	stopServer(t, srv.Server)
	srv2 := testutil.StartServer(t, withDir)
	if status, body := rawDial(t, srv2, tok, ""); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("rejoin after a restart: %d %q", status, body)
	}
	// A token issued after the removal lets the backend readmit them. Issue times have
	// one-second resolution, so a token issued in the second of the removal counts as
	// issued before it: the readmission token is minted in a later second.
	testutil.Eventually(t, 5*time.Second, func() bool { return time.Now().Unix() > removedAt.Unix() }, "the clock did not move on")
	srv2.Join(t, "r", "troll", testutil.WithName("Troll, readmitted"))
}

func TestMutePublishedTrack(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	viewer := srv.Join(t, "r", "viewer")
	// The speaker may set its own metadata: the test uses that to fence what its SDK
	// sends.
	g := &lkauth.VideoGrant{}
	g.SetCanUpdateOwnMetadata(true)
	speaker := srv.Join(t, "r", "speaker", testutil.WithGrant(g))
	pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	viewer.WaitFor(t, 5*time.Second, "track_published", "speaker")

	// The seed's snippet, with the SID from GetParticipant.
	info, _ := rc.GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "r", Identity: "speaker"})
	res, err := rc.MutePublishedTrack(context.Background(), &livekit.MuteRoomTrackRequest{
		Room:     "r",
		Identity: "speaker",
		TrackSid: info.Tracks[0].Sid,
		Muted:    true,
	})
	if err != nil || !res.Track.Muted || res.Track.Sid != pub.SID() {
		t.Fatalf("mute: %v %v", res, err)
	}
	viewer.WaitFor(t, 5*time.Second, "track_muted", "speaker")
	testutil.Eventually(t, 5*time.Second, func() bool { return pub.IsMuted() }, "the publisher's SDK did not mute its track")
	// The SDK would revert the mute while handling the messages the mute sent it, by
	// sending its own state back. Once it has handled them all (a signal barrier), the
	// speaker sets its metadata: the server handles the speaker's requests in order,
	// so when others see that metadata, any revert has been applied, and the update
	// carrying the metadata carries the track's state too.
	srv.SignalBarrier(t, "r", speaker)
	speaker.Room.LocalParticipant.SetMetadata("after the mute")
	if _, ok := viewer.Await(5*time.Second, func(e testutil.Event) bool {
		return e.Kind == "metadata_changed" && e.Identity == "speaker" && e.Detail == "after the mute"
	}); !ok {
		t.Fatalf("viewer did not see the speaker's metadata: %v", viewer.Events())
	}
	if rpub := viewer.Room.GetParticipantByIdentity("speaker").GetTrackPublication(livekit.TrackSource_MICROPHONE); rpub == nil || !rpub.IsMuted() ||
		viewer.Has("track_unmuted", "speaker") {
		t.Errorf("the mute was reverted: the viewer sees the track unmuted")
	}
	if info, err := rc.GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "r", Identity: "speaker"}); err != nil || !info.Tracks[0].Muted {
		t.Errorf("the mute was reverted: %v %v", info, err)
	}

	// Unmute is refused unless enabled.
	_, err = rc.MutePublishedTrack(ctx10(t), &livekit.MuteRoomTrackRequest{Room: "r", Identity: "speaker", TrackSid: pub.SID(), Muted: false})
	if code := twirpCode(t, err); code != twirp.FailedPrecondition || !strings.Contains(err.Error(), "enable_remote_unmute") {
		t.Errorf("remote unmute: %v", err)
	}
	for _, req := range []*livekit.MuteRoomTrackRequest{
		{Room: "r", Identity: "ghost", TrackSid: pub.SID(), Muted: true},
		{Room: "r", Identity: "speaker", TrackSid: "TR_unknown", Muted: true},
		{Room: "nope", Identity: "speaker", TrackSid: pub.SID(), Muted: true},
	} {
		_, err := rc.MutePublishedTrack(ctx10(t), req)
		if code := twirpCode(t, err); code != twirp.NotFound {
			t.Errorf("%v: %v, want not_found", req, err)
		}
	}
	_, err = rc.MutePublishedTrack(ctx10(t), &livekit.MuteRoomTrackRequest{Room: "r", Identity: "speaker", Muted: true})
	if code := twirpCode(t, err); code != twirp.InvalidArgument {
		t.Errorf("no track_sid: %v", err)
	}
}

func TestRemoteUnmuteWhenEnabled(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.Room.EnableRemoteUnmute = true }))
	rc := srv.RoomClient()
	viewer := srv.Join(t, "r", "viewer")
	speaker := srv.Join(t, "r", "speaker", singlePC)
	pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	viewer.WaitFor(t, 5*time.Second, "track_published", "speaker")
	for _, muted := range []bool{true, false} {
		if _, err := rc.MutePublishedTrack(ctx10(t), &livekit.MuteRoomTrackRequest{Room: "r", Identity: "speaker", TrackSid: pub.SID(), Muted: muted}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, func() bool { return pub.IsMuted() == muted }, "publisher muted=%v", muted)
	}
	viewer.WaitFor(t, 5*time.Second, "track_unmuted", "speaker")
}

func TestUpdateSubscriptions(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	pubr := srv.Join(t, "r", "pub")
	srv.Join(t, "r", "sub", testutil.WithGrant(audienceGrant()))
	noSub := &lkauth.VideoGrant{}
	noSub.SetCanSubscribe(false)
	srv.Join(t, "r", "nosub", testutil.WithGrant(noSub))
	pub, err := pubr.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(srv.Participant(t, "r", "pub").Tracks) == 1 }, "not published")
	pubInfo := srv.Participant(t, "r", "pub")

	// By SID, and by participant; even without can_subscribe.
	if _, err := rc.UpdateSubscriptions(ctx10(t), &livekit.UpdateSubscriptionsRequest{Room: "r", Identity: "nosub", TrackSids: []string{pub.SID()}, Subscribe: true}); err != nil {
		t.Fatalf("subscribe nosub: %v", err)
	}
	if _, err := rc.UpdateSubscriptions(ctx10(t), &livekit.UpdateSubscriptionsRequest{Room: "r", Identity: "sub", Subscribe: false,
		ParticipantTracks: []*livekit.ParticipantTracks{{ParticipantSid: pubInfo.Sid, TrackSids: []string{pub.SID()}}}}); err != nil {
		t.Fatalf("unsubscribe sub: %v", err)
	}
	rm, _ := srv.Rooms().Room("r")
	if subs := rm.Participant("nosub").Subscriptions(); !subs[pub.SID()] {
		t.Errorf("nosub's subscriptions: %v", subs)
	}
	if subs := rm.Participant("sub").Subscriptions(); subs[pub.SID()] {
		t.Errorf("sub's subscriptions: %v", subs)
	}
	for _, req := range []*livekit.UpdateSubscriptionsRequest{
		{Room: "r", Identity: "sub", TrackSids: []string{"TR_nope"}, Subscribe: true},
		{Room: "r", Identity: "ghost", TrackSids: []string{pub.SID()}, Subscribe: true},
		{Room: "r", Identity: "sub", Subscribe: true, ParticipantTracks: []*livekit.ParticipantTracks{{ParticipantSid: "PA_nope", TrackSids: []string{pub.SID()}}}},
	} {
		_, err := rc.UpdateSubscriptions(ctx10(t), req)
		if code := twirpCode(t, err); code != twirp.NotFound {
			t.Errorf("%v: %v, want not_found", req, err)
		}
	}
	_, err = rc.UpdateSubscriptions(ctx10(t), &livekit.UpdateSubscriptionsRequest{Room: "r", Identity: "sub", Subscribe: true})
	if code := twirpCode(t, err); code != twirp.InvalidArgument {
		t.Errorf("no tracks: %v", err)
	}
}

func TestSendDataFromTheServer(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	a := srv.Join(t, "r", "a")
	b := srv.Join(t, "r", "b", singlePC)
	waitActive(t, srv, "r", "a", "b")

	topic := "announcements"
	_, err := rc.SendData(ctx10(t), &livekit.SendDataRequest{Room: "r", Data: []byte("to all"), Kind: livekit.DataPacket_RELIABLE, Topic: &topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testutil.Client{a, b} {
		e := c.WaitFor(t, 5*time.Second, "data", "")
		if e.Detail != "to all" || e.Topic != topic {
			t.Errorf("%s got %v", c.Identity, e)
		}
	}
	// A retried request (same nonce; the SDK sets a fresh one per call) is delivered
	// once. It is reliable so that a data barrier orders after it: lossy packets may
	// arrive in any order, or not at all.
	admin := testutil.Token(t, "admin", adminGrant("r"))
	body := `{"room":"r","data":"` + base64.StdEncoding.EncodeToString([]byte("just b")) +
		`","kind":"RELIABLE","destination_identities":["b"],"nonce":"` + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")) + `"}`
	for range 2 {
		if r := post(t, srv.URL, "SendData", "application/json", admin, []byte(body)); r.status != 200 {
			t.Fatalf("SendData: %d %s", r.status, r.body)
		}
	}
	srv.DataBarrier(t, "r", a, b)
	n := 0
	for _, e := range b.Events() {
		if e.Kind == "data" && e.Detail == "just b" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("b got the nonce'd packet %d times, want 1", n)
	}
	for _, e := range a.Events() {
		if e.Kind == "data" && e.Detail == "just b" {
			t.Errorf("a got b's packet")
		}
	}

	for _, tc := range []struct {
		req  *livekit.SendDataRequest
		code twirp.ErrorCode
		msg  string
	}{
		{&livekit.SendDataRequest{Room: "r"}, twirp.InvalidArgument, "data is empty"},
		{&livekit.SendDataRequest{Room: "r", Data: make([]byte, 70000)}, twirp.InvalidArgument, "limit is 65536"},
		{&livekit.SendDataRequest{Room: "r", Data: []byte("x"), DestinationIdentities: []string{"nobody"}}, twirp.NotFound, "none of the destinations"},
		{&livekit.SendDataRequest{Room: "nope", Data: []byte("x")}, twirp.NotFound, "room not found"},
	} {
		_, err := rc.SendData(ctx10(t), tc.req)
		if code := twirpCode(t, err); code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want %s %q", tc.req.Data[:min(len(tc.req.Data), 8)], err, tc.code, tc.msg)
		}
	}
	short := `{"room":"r","data":"eA==","nonce":"` + base64.StdEncoding.EncodeToString([]byte("short")) + `"}`
	if r := post(t, srv.URL, "SendData", "application/json", admin, []byte(short)); r.status != 400 || !strings.Contains(string(r.body), "nonce must be 16 bytes") {
		t.Errorf("short nonce: %d %s", r.status, r.body)
	}
}

func TestClientUpdatesItsOwnMetadata(t *testing.T) {
	srv := testutil.StartServer(t)
	g := &lkauth.VideoGrant{}
	g.SetCanUpdateOwnMetadata(true)
	self := srv.Join(t, "r", "self", testutil.WithGrant(g))
	// other has no can_update_metadata. It is a raw client, to see the server's answer
	// and everything sent before it.
	other := dialRaw(t, srv, testutil.JoinToken(t, "r", "other"), "")
	self.WaitFor(t, 5*time.Second, "participant_connected", "other")
	self.Room.LocalParticipant.SetMetadata("mine")
	other.await(5*time.Second, "self's metadata", func(r *livekit.SignalResponse) bool {
		return slices.ContainsFunc(r.GetUpdate().GetParticipants(), func(p *livekit.ParticipantInfo) bool {
			return p.Identity == "self" && p.Metadata == "mine"
		})
	})

	other.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
		Metadata: "not allowed", RequestId: 7,
	}}})
	// The server handles other's requests in order: by the pong of a ping sent after
	// the update, it has answered the update and sent any change it made.
	var answered bool
	for _, res := range other.barrier() {
		if rr := res.GetRequestResponse(); rr.GetRequestId() == 7 {
			answered = true
			if rr.Reason != livekit.RequestResponse_NOT_ALLOWED {
				t.Errorf("answer to a refused update_metadata: %v", rr)
			}
		}
		for _, p := range res.GetUpdate().GetParticipants() {
			if p.Metadata == "not allowed" {
				t.Errorf("the server announced a refused metadata change: %v", p)
			}
		}
	}
	if !answered {
		t.Errorf("no RequestResponse for the refused update_metadata")
	}
	info, err := srv.RoomClient().GetParticipant(ctx10(t), &livekit.RoomParticipantIdentity{Room: "r", Identity: "other"})
	if err != nil || info.Metadata != "" {
		t.Errorf("a participant without can_update_metadata changed its metadata: %v %v", info, err)
	}
}

func TestConcurrentAdminsLeaveOneConsistentState(t *testing.T) {
	srv := testutil.StartServer(t)
	rc := srv.RoomClient()
	watcher := srv.Join(t, "r", "watcher")
	for i := range 3 {
		srv.Join(t, "r", fmt.Sprintf("p%d", i))
	}
	var wg sync.WaitGroup
	for admin := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("p%d", (admin+i)%3)
				var err error
				switch i % 3 {
				case 0:
					_, err = rc.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: "r", Identity: id, Metadata: fmt.Sprintf("m-%d-%d", admin, i)})
				case 1:
					_, err = rc.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: "r", Identity: id, Attributes: map[string]string{"by": fmt.Sprint(admin)}})
				case 2:
					_, err = rc.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: "r", Identity: id,
						Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: admin%2 == 0, CanPublishData: true}})
				}
				if err != nil {
					t.Errorf("admin %d: %v", admin, err)
				}
			}
		}()
	}
	wg.Wait()
	// Every client converges on the server's final state.
	for i := range 3 {
		id := fmt.Sprintf("p%d", i)
		want := srv.Participant(t, "r", id)
		testutil.Eventually(t, 5*time.Second, func() bool {
			rp := watcher.Room.GetParticipantByIdentity(id)
			return rp != nil && rp.Metadata() == want.Metadata && rp.Attributes()["by"] == want.Attributes["by"]
		}, "watcher's view of %s did not converge to the server's", id)
	}
}

package test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/testutil"
)

func newAudioTrack(t *testing.T) *lksdk.LocalTrack {
	t.Helper()
	tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newVideoTrack(t *testing.T) *lksdk.LocalTrack {
	t.Helper()
	tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestPublishMuteUnpublish(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		viewer := srv.Join(t, "stage", "viewer")
		speaker := srv.Join(t, "stage", "speaker", mode...)

		pub, err := speaker.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
		if err != nil {
			t.Fatalf("PublishTrack: %v", err)
		}
		if len(pub.SID()) < 4 || pub.SID()[:3] != "TR_" {
			t.Fatalf("track SID %q is not server-made", pub.SID())
		}
		e := viewer.WaitFor(t, 5*time.Second, "track_published", "speaker")
		if e.Detail != pub.SID() {
			t.Errorf("viewer saw track %s, publisher got %s", e.Detail, pub.SID())
		}
		rp := viewer.Room.GetParticipantByIdentity("speaker")
		rpub := rp.GetTrackPublication(livekit.TrackSource_MICROPHONE)
		if rpub == nil || rpub.Name() != "mic" || rpub.Kind() != lksdk.TrackKindAudio {
			t.Fatalf("viewer's view of the track: %+v", rpub)
		}
		// The server lists it, with its codec from the negotiated description.
		info := srv.Participant(t, "stage", "speaker")
		if len(info.Tracks) != 1 || info.Tracks[0].Sid != pub.SID() || info.Tracks[0].MimeType != "audio/opus" || info.Tracks[0].Mid == "" {
			t.Errorf("server's track list: %v", info.Tracks)
		}
		if !info.IsPublisher || roomInfo(t, srv, "stage").NumPublishers != 1 {
			t.Errorf("is_publisher %v, num_publishers %d", info.IsPublisher, roomInfo(t, srv, "stage").NumPublishers)
		}

		// A second track, video.
		vpub, err := speaker.Room.LocalParticipant.PublishTrack(newVideoTrack(t), &lksdk.TrackPublicationOptions{Name: "cam", VideoWidth: 640, VideoHeight: 360})
		if err != nil {
			t.Fatalf("PublishTrack video: %v", err)
		}
		testutil.Eventually(t, 5*time.Second, func() bool {
			rp := viewer.Room.GetParticipantByIdentity("speaker")
			return rp != nil && rp.GetTrackPublication(livekit.TrackSource_CAMERA) != nil
		}, "viewer does not see the camera track")

		// Client-side mute is seen by others.
		pub.SetMuted(true)
		e = viewer.WaitFor(t, 5*time.Second, "track_muted", "speaker")
		if e.Detail != pub.SID() {
			t.Errorf("muted track %s, want %s", e.Detail, pub.SID())
		}
		if !srv.Participant(t, "stage", "speaker").Tracks[0].Muted {
			t.Errorf("server does not record the mute")
		}
		pub.SetMuted(false)
		viewer.WaitFor(t, 5*time.Second, "track_unmuted", "speaker")

		// Unpublishing renegotiates; others see the track go.
		if err := speaker.Room.LocalParticipant.UnpublishTrack(vpub.SID()); err != nil {
			t.Fatal(err)
		}
		e = viewer.WaitFor(t, 5*time.Second, "track_unpublished", "speaker")
		if e.Detail != vpub.SID() {
			t.Errorf("unpublished %s, want %s", e.Detail, vpub.SID())
		}
		testutil.Eventually(t, 5*time.Second, func() bool {
			return len(srv.Participant(t, "stage", "speaker").Tracks) == 1
		}, "server still lists the unpublished track")
	})
}

func TestPublishNotAllowed(t *testing.T) {
	t.Parallel() // the SDK gives up on a refused publication after 10 s
	srv := testutil.StartServer(t)
	listener := srv.Join(t, "r", "listener", testutil.WithGrant(grantNoPublish()))
	_, err := listener.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"})
	if err == nil {
		t.Fatal("a participant without canPublish published a track")
	}
	if n := len(srv.Participant(t, "r", "listener").Tracks); n != 0 {
		t.Errorf("server lists %d tracks", n)
	}
}

func TestDataPackets(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		a := srv.Join(t, "chat", "a", mode...)
		b := srv.Join(t, "chat", "b", mode...)
		c := srv.Join(t, "chat", "c", mode...)
		waitActive(t, srv, "chat", "a", "b", "c")

		// Broadcast, reliable, with a topic.
		if err := a.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("hello all")), lksdk.WithDataPublishReliable(true), lksdk.WithDataPublishTopic("chat")); err != nil {
			t.Fatal(err)
		}
		for _, rc := range []*testutil.Client{b, c} {
			e := rc.WaitFor(t, 5*time.Second, "data", "a")
			if e.Detail != "hello all" || e.Topic != "chat" {
				t.Errorf("%s got %v", rc.Identity, e)
			}
		}
		// Targeted, lossy and reliable.
		if err := b.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("just c")), lksdk.WithDataPublishDestination([]string{"c"})); err != nil {
			t.Fatal(err)
		}
		e := c.WaitFor(t, 5*time.Second, "data", "b")
		if e.Detail != "just c" {
			t.Errorf("c got %v", e)
		}
		if err := b.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("just c, reliably")), lksdk.WithDataPublishDestination([]string{"c"}), lksdk.WithDataPublishReliable(true)); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "data" && e.Detail == "just c, reliably" }); !ok {
			t.Errorf("c did not get b's reliable packet: %v", c.Events())
		}
		// A large packet (bigger than one SCTP read buffer) arrives whole.
		big := strings.Repeat("0123456789", 3000)
		if err := a.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte(big)), lksdk.WithDataPublishReliable(true), lksdk.WithDataPublishDestination([]string{"c"})); err != nil {
			t.Fatal(err)
		}
		if e, ok := c.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "data" && len(e.Detail) > 1000 }); !ok || e.Detail != big {
			t.Errorf("large packet: arrived %v, %d bytes", ok, len(e.Detail))
		}
		// a did not get b's targeted packets. b now broadcasts on the same reliable
		// channel: the server routes b's packets in order, so had it sent a the
		// reliable targeted one, a would have it before this one. (The lossy one has no
		// such fence: lossy packets may arrive in any order or not at all.)
		if err := b.Room.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("fence")), lksdk.WithDataPublishReliable(true)); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "data" && e.Detail == "fence" }); !ok {
			t.Fatalf("a did not get b's broadcast: %v", a.Events())
		}
		for _, ev := range a.Events() {
			if ev.Kind == "data" && ev.Detail != "fence" {
				t.Errorf("a received %v", ev)
			}
		}
		// A forged sender identity is replaced by the real one.
		forged := &livekit.DataPacket{ParticipantIdentity: "admin", Value: &livekit.DataPacket_User{User: &livekit.UserPacket{
			Payload: []byte("forged"), ParticipantIdentity: "admin", //nolint:staticcheck
		}}}
		if err := c.Room.LocalParticipant.PublishDataPacket(rawPacket{forged}, lksdk.WithDataPublishDestination([]string{"a"}), lksdk.WithDataPublishReliable(true)); err != nil {
			t.Fatal(err)
		}
		e, ok := a.Await(5*time.Second, func(e testutil.Event) bool { return e.Kind == "data" && e.Detail == "forged" })
		if !ok || e.Identity != "c" {
			t.Errorf("forged packet arrived as %v (%v), want from c", e, ok)
		}
	})
}

// rawPacket lets a test send a DataPacket exactly as built.
type rawPacket struct{ p *livekit.DataPacket }

func (r rawPacket) ToProto() *livekit.DataPacket { return r.p }

func waitActive(t *testing.T, srv *testutil.TestServer, roomName string, identities ...string) {
	t.Helper()
	for _, id := range identities {
		testutil.Eventually(t, 5*time.Second, func() bool {
			return participantState(t, srv, roomName, id) == livekit.ParticipantInfo_ACTIVE
		}, "%s did not become ACTIVE", id)
	}
}

func TestManyPublishersAndDataFanOut(t *testing.T) {
	srv := testutil.StartServer(t)
	const n = 6
	clients := make([]*testutil.Client, n)
	for i := range clients {
		clients[i] = srv.Join(t, "fan", fmt.Sprintf("p%d", i))
	}
	for i, c := range clients {
		if _, err := c.Room.LocalParticipant.PublishTrack(newAudioTrack(t), &lksdk.TrackPublicationOptions{Name: "mic"}); err != nil {
			t.Fatalf("p%d PublishTrack: %v", i, err)
		}
	}
	for i, c := range clients {
		testutil.Eventually(t, 10*time.Second, func() bool {
			for j := range clients {
				if j == i {
					continue
				}
				rp := c.Room.GetParticipantByIdentity(fmt.Sprintf("p%d", j))
				if rp == nil || len(rp.TrackPublications()) != 1 {
					return false
				}
			}
			return true
		}, "p%d does not see every other participant's track", i)
	}
}

func grantNoPublish() *lkauth.VideoGrant {
	g := &lkauth.VideoGrant{}
	g.SetCanPublish(false)
	return g
}

// The SDK drops data packets that carry its own identity, so only a hand-made client
// can show that the server never sends a participant its own packets.
func TestSenderDoesNotHearItself(t *testing.T) {
	srv := testutil.StartServer(t)
	other := srv.Join(t, "chat", "other")
	raw := newRawDataClient(t, srv, "chat", "raw")
	waitActive(t, srv, "chat", "raw")

	raw.sendData(&livekit.DataPacket{Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte("hello all")}}})
	if e := other.WaitFor(t, 5*time.Second, "data", "raw"); e.Detail != "hello all" {
		t.Errorf("other got %v", e)
	}
	// The server queues a packet for every recipient under the room's lock, so once
	// other has it, a packet the server sends raw now comes after any copy of it.
	topic := testutil.BarrierTopic
	if _, err := srv.RoomClient().SendData(ctx10(t), &livekit.SendDataRequest{
		Room: "chat", Data: []byte("barrier"), Kind: livekit.DataPacket_RELIABLE, Topic: &topic, DestinationIdentities: []string{"raw"},
	}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case pkt := <-raw.data:
			if string(pkt.GetUser().GetPayload()) == "barrier" {
				return
			}
			t.Errorf("the sender got back %v", pkt)
		case <-time.After(10 * time.Second):
			t.Fatal("raw did not get the barrier packet")
		}
	}
}

// rawDataClient is a hand-made single peer connection client with a reliable data
// channel: it sees every data packet the server sends it.
type rawDataClient struct {
	*rawClient
	dc   *webrtc.DataChannel
	data chan *livekit.DataPacket
}

func newRawDataClient(t *testing.T, srv *testutil.TestServer, roomName, identity string) *rawDataClient {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	ordered := true
	dc, err := pc.CreateDataChannel("_reliable", &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawDataClient{dc: dc, data: make(chan *livekit.DataPacket, 64)}
	opened := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		var pkt livekit.DataPacket
		if proto.Unmarshal(m.Data, &pkt) == nil {
			c.data <- &pkt
		}
	})
	// The offer goes in the join request, with every candidate in it.
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	jr, _ := proto.Marshal(&livekit.JoinRequest{
		ClientInfo:         &livekit.ClientInfo{Protocol: 16},
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
		PublisherOffer:     &livekit.SessionDescription{Type: "offer", Sdp: pc.LocalDescription().SDP},
	})
	wrapped, _ := proto.Marshal(&livekit.WrappedJoinRequest{JoinRequest: jr})
	c.rawClient = dialRaw(t, srv, testutil.JoinToken(t, roomName, identity), "join_request="+base64.RawURLEncoding.EncodeToString(wrapped))
	go func() {
		for {
			res, _, err := c.next(time.Minute)
			if err != nil {
				return
			}
			switch m := res.Message.(type) {
			case *livekit.SignalResponse_Answer:
				_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.Answer.Sdp})
			case *livekit.SignalResponse_Trickle:
				var init webrtc.ICECandidateInit
				if json.Unmarshal([]byte(m.Trickle.CandidateInit), &init) == nil {
					_ = pc.AddICECandidate(init)
				}
			}
		}
	}()
	select {
	case <-opened:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s's data channel did not open", identity)
	}
	return c
}

// sendData sends pkt on the reliable data channel.
func (c *rawDataClient) sendData(pkt *livekit.DataPacket) {
	c.t.Helper()
	b, err := proto.Marshal(pkt)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.dc.Send(b); err != nil {
		c.t.Fatal(err)
	}
}

package test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/testutil"
)

// sendingOffer returns a real (Pion-made) publisher offer that sends one track per id:
// "audio:<id>" or "video:<id>".
func sendingOffer(t *testing.T, tracks ...string) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, tr := range tracks {
		kind, id, _ := strings.Cut(tr, ":")
		codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		if kind == "video" {
			codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		}
		local, err := webrtc.NewTrackLocalStaticSample(codec, id, "stream-"+id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

func floodLayers(n int) []*livekit.VideoLayer {
	layers := make([]*livekit.VideoLayer, n)
	for i := range layers {
		layers[i] = &livekit.VideoLayer{Quality: livekit.VideoQuality_HIGH, Width: 1920, Height: 1080, Bitrate: 3000000, Rid: "f"}
	}
	return layers
}

// The reviewer's attack: add_track requests describing thousands of layers, followed by
// an offer that sends the track. The requests are refused with LIMIT_EXCEEDED, the
// connection stays, nobody else ever sees such a track, and ListParticipants stays
// small.
func TestTrackDescriptionFloodIsRefused(t *testing.T) {
	srv := testutil.StartServer(t)
	watcher := srv.Join(t, "flood", "watcher")
	c := joined(t, srv, "flood", "attacker")
	watcher.WaitFor(t, 5*time.Second, "participant_connected", "attacker")

	for i := range 8 {
		cid := fmt.Sprintf("cam-%d", i)
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
			Cid: cid, Name: "camera", Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_CAMERA,
			Layers:          floodLayers(28000),
			SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: "vp8", Cid: cid, Layers: floodLayers(10)}},
			AudioFeatures:   make([]livekit.AudioTrackFeature, 5000),
		}}})
		res, _ := c.await(10*time.Second, "the refusal of "+cid, func(r *livekit.SignalResponse) bool {
			return r.GetRequestResponse() != nil || r.GetTrackPublished() != nil
		})
		rr := res.GetRequestResponse()
		if rr == nil {
			t.Fatalf("add_track with 28000 layers was accepted: %v", res.GetTrackPublished().GetTrack().GetSid())
		}
		if rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED || rr.GetAddTrack().GetCid() != cid ||
			!strings.Contains(rr.Message, "add_track.layers has 28000 elements; the limit is 4") {
			t.Fatalf("refusal: %v", rr)
		}
		if n := proto.Size(res); n > 1024 {
			t.Errorf("the refusal is %d bytes: it must not echo the request", n)
		}
	}
	// The connection is still up, and an ordinary track is published normally.
	c.ping(5 * time.Second)
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
		Cid: "mic", Name: "microphone", Type: livekit.TrackType_AUDIO, Source: livekit.TrackSource_MICROPHONE,
	}}})
	pub, _ := c.await(5*time.Second, "track_published", func(r *livekit.SignalResponse) bool { return r.GetTrackPublished() != nil })
	micSID := pub.GetTrackPublished().GetTrack().GetSid()
	// The offer sends the refused camera and the microphone: only the microphone is a track.
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: sendingOffer(t, "video:cam-0", "audio:mic"),
	}}})
	c.await(5*time.Second, "answer", func(r *livekit.SignalResponse) bool { return r.GetAnswer() != nil })

	// Barrier: the watcher sees the microphone, which was published after the camera.
	watcher.WaitFor(t, 5*time.Second, "track_published", "attacker")
	for _, e := range watcher.Events() {
		if e.Kind == "track_published" && e.Detail != micSID {
			t.Errorf("the watcher saw track %s published", e.Detail)
		}
	}
	rp := watcher.Room.GetParticipantByIdentity("attacker")
	if rp == nil || len(rp.TrackPublications()) != 1 {
		t.Fatalf("the watcher sees the attacker with %v", rp.TrackPublications())
	}
	res, err := srv.RoomClient().ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	if n := proto.Size(res); n > 4096 {
		t.Errorf("ListParticipants answers %d bytes", n)
	}
	for _, p := range res.Participants {
		for _, tr := range p.Tracks {
			if tr.Sid != micSID || len(tr.Layers) > 4 || len(tr.AudioFeatures) > 8 {
				t.Errorf("%s lists track %v", p.Identity, tr)
			}
		}
	}
}

// Requests over their bounds: those with a RequestResponse counterpart are answered
// LIMIT_EXCEEDED, others are dropped; either way the connection stays up.
func TestOversizedSignalRequestsKeepTheConnection(t *testing.T) {
	srv := testutil.StartServer(t)
	c := dialRaw(t, srv, testutil.JoinToken(t, "big", "big", testutil.WithGrant(&lkauth.VideoGrant{CanUpdateOwnMetadata: ptr(true)})), "")
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })

	sids := make([]string, 5000)
	for i := range sids {
		sids[i] = fmt.Sprintf("TR_%d", i)
	}
	for _, req := range []*livekit.SignalRequest{
		{Message: &livekit.SignalRequest_Subscription{Subscription: &livekit.UpdateSubscription{TrackSids: sids, Subscribe: true}}},
		{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: strings.Repeat("c", 100000)}}},
		{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{Type: "answer", Sdp: strings.Repeat("a=x\r\n", 200000)}}},
	} {
		c.send(req)
	}
	res, _ := c.await(5*time.Second, "trickle refusal", func(r *livekit.SignalResponse) bool { return r.GetRequestResponse() != nil })
	if rr := res.GetRequestResponse(); rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED || rr.GetTrickle() == nil ||
		!strings.Contains(rr.Message, "trickle.candidateInit is 100000 bytes; the limit is 2048") {
		t.Errorf("trickle refusal: %v", rr)
	}
	// update_metadata over its limits is answered, with its request id.
	attrs := map[string]string{}
	for i := range 2000 {
		attrs[fmt.Sprint("k", i)] = "v"
	}
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
		RequestId: 42, Attributes: attrs,
	}}})
	res, _ = c.await(5*time.Second, "request_response", func(r *livekit.SignalResponse) bool { return r.GetRequestResponse() != nil })
	if rr := res.GetRequestResponse(); rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED || rr.RequestId != 42 ||
		!strings.Contains(rr.Message, "update_metadata.attributes has 2000 entries; the limit is 1024") {
		t.Errorf("update_metadata refusal: %v", rr)
	}
	// The subscription and the answer were dropped (no counterpart); the connection
	// still answers pings.
	c.ping(5 * time.Second)
}

// A binary frame that is not a SignalRequest, a text frame that is not JSON, and
// frames over 1 MiB do not break anything that follows (the last closes the socket, as
// gorilla's read limit does).
func TestGarbageFramesAreSkipped(t *testing.T) {
	srv := testutil.StartServer(t)
	c := joined(t, srv, "garbage", "g")
	for _, f := range [][]byte{{0xff, 0xff, 0xff}, {0x0a, 0x05, 0x01}, bytes.Repeat([]byte{0x08}, 1000)} {
		_ = c.ws.WriteMessage(websocket.BinaryMessage, f)
	}
	c.ping(5 * time.Second)
}

func ptr[T any](v T) *T { return &v }

// wrapJoinRequest encodes a join_request query value.
func wrapJoinRequest(t *testing.T, jr *livekit.JoinRequest, gz bool) string {
	t.Helper()
	body, err := proto.Marshal(jr)
	if err != nil {
		t.Fatal(err)
	}
	w := &livekit.WrappedJoinRequest{JoinRequest: body}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		w.Compression = livekit.WrappedJoinRequest_GZIP
		w.JoinRequest = buf.Bytes()
	}
	data, _ := proto.Marshal(w)
	return url.QueryEscape(base64.URLEncoding.EncodeToString(data))
}

// A join_request over its bounds is refused before the upgrade with 400 naming the
// field and the limit, in both compressions; /rtc/validate says the same.
func TestOversizedJoinRequestIsRefused(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.JoinToken(t, "jr", "joiner")
	for _, gz := range []bool{false, true} {
		n := 28000 // compressed; uncompressed, that many would not fit in a URL
		if !gz {
			n = 100
		}
		jr := &livekit.JoinRequest{
			ClientInfo:       &livekit.ClientInfo{Protocol: 16, Sdk: livekit.ClientInfo_GO},
			AddTrackRequests: []*livekit.AddTrackRequest{{Cid: "cam", Type: livekit.TrackType_VIDEO, Layers: floodLayers(n)}},
		}
		q := "join_request=" + wrapJoinRequest(t, jr, gz)
		want := fmt.Sprintf("join_request.add_track_requests[0].layers has %d elements; the limit is 4", n)
		if status, body := rawDial(t, srv, tok, q); status != 400 || !strings.Contains(body, want) {
			t.Errorf("gzip=%v: %d %.200q", gz, status, body)
		}
		if status, body := rawValidate(t, srv, tok, q); status != 400 || !strings.Contains(body, want) {
			t.Errorf("validate gzip=%v: %d %.200q", gz, status, body)
		}
	}
	// Too many tracks, and an offer with too many media sections.
	many := &livekit.JoinRequest{}
	for i := range 65 {
		many.AddTrackRequests = append(many.AddTrackRequests, &livekit.AddTrackRequest{Cid: fmt.Sprint("c", i), Type: livekit.TrackType_AUDIO})
	}
	if status, body := rawDial(t, srv, tok, "join_request="+wrapJoinRequest(t, many, true)); status != 400 || !strings.Contains(body, "add_track_requests has 65 elements; the limit is 64") {
		t.Errorf("65 tracks: %d %q", status, body)
	}
	sections := &livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n" + strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", 300)}}
	if status, body := rawDial(t, srv, tok, "join_request="+wrapJoinRequest(t, sections, true)); status != 400 || !strings.Contains(body, "300 media sections; the limit is 256") {
		t.Errorf("300 media sections: %d %q", status, body)
	}
}

// A data packet over its bounds is dropped; the next one arrives.
func TestOversizedDataPacketIsDropped(t *testing.T) {
	forBothModes(t, func(t *testing.T, mode ...testutil.JoinOption) {
		srv := testutil.StartServer(t)
		a := srv.Join(t, "data", "a", mode...)
		b := srv.Join(t, "data", "b")
		waitActive(t, srv, "data", "a", "b")
		lp := a.Room.LocalParticipant
		if err := lp.PublishDataPacket(lksdk.UserData([]byte("too long a topic")), lksdk.WithDataPublishReliable(true),
			lksdk.WithDataPublishTopic(strings.Repeat("t", 300))); err != nil {
			t.Fatal(err)
		}
		if err := lp.PublishDataPacket(lksdk.UserData([]byte("fine")), lksdk.WithDataPublishReliable(true), lksdk.WithDataPublishTopic("chat")); err != nil {
			t.Fatal(err)
		}
		e := b.WaitFor(t, 5*time.Second, "data", "a")
		if e.Detail != "fine" {
			t.Errorf("b received %q first", e.Detail)
		}
	})
}

// Metadata and attributes from the query or the join_request that change what the
// token says need canUpdateOwnMetadata, as update_metadata does; without it the join is
// refused before the upgrade, and /rtc/validate says the same.
func TestJoinCannotGrantItselfMetadata(t *testing.T) {
	srv := testutil.StartServer(t)
	roleAttrs := url.QueryEscape(base64.URLEncoding.EncodeToString([]byte(`{"role":"host"}`)))
	plain := testutil.JoinToken(t, "own", "forger", testutil.WithMetadata(`{"role":"viewer"}`),
		testutil.WithAttributes(map[string]string{"role": "viewer"}))
	refused := []struct{ name, query string }{
		{"query metadata", "metadata=" + url.QueryEscape(`{"role":"host"}`)},
		{"query attributes", "attributes=" + roleAttrs},
		{"join_request metadata", "join_request=" + wrapJoinRequest(t, &livekit.JoinRequest{Metadata: `{"role":"host"}`}, true)},
		{"join_request attributes", "join_request=" + wrapJoinRequest(t, &livekit.JoinRequest{
			ParticipantAttributes: map[string]string{"role": "host"}}, false)},
		{"join_request new attribute", "join_request=" + wrapJoinRequest(t, &livekit.JoinRequest{
			ParticipantAttributes: map[string]string{"admin": "1"}}, true)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawDial(t, srv, plain, tc.query)
			if status != 403 || !strings.Contains(body, "canUpdateOwnMetadata") {
				t.Errorf("join: %d %q, want 403 naming canUpdateOwnMetadata", status, body)
			}
			if vs, vb := rawValidate(t, srv, plain, tc.query); vs != status || vb != body {
				t.Errorf("validate: %d %q", vs, vb)
			}
		})
	}
	// Values equal to the token's change nothing and are accepted, as is an empty
	// attribute value (which never deletes a token attribute).
	same := "metadata=" + url.QueryEscape(`{"role":"viewer"}`) + "&attributes=" +
		url.QueryEscape(base64.URLEncoding.EncodeToString([]byte(`{"role":"viewer","x":""}`)))
	if status, body := tryDial(t, srv, plain, "protocol=16&"+same); status != 101 {
		t.Errorf("values equal to the token's: %d %q", status, body)
	}

	// With the grant, both forms set them (through the usual validators).
	granted := func(identity string) string {
		return testutil.JoinToken(t, "own", identity, testutil.WithGrant(&lkauth.VideoGrant{CanUpdateOwnMetadata: ptr(true)}))
	}
	c := dialRaw(t, srv, granted("host-q"), "metadata="+url.QueryEscape(`{"role":"host"}`)+"&attributes="+roleAttrs)
	c.await(5*time.Second, "join", func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	jr := wrapJoinRequest(t, &livekit.JoinRequest{Metadata: `{"role":"host"}`, ParticipantAttributes: map[string]string{"role": "host"}}, true)
	if status, body := tryDial(t, srv, granted("host-jr"), "join_request="+jr); status != 101 {
		t.Fatalf("join_request with the grant: %d %q", status, body)
	}
	for _, id := range []string{"host-q"} {
		p := srv.Participant(t, "own", id)
		if p.Metadata != `{"role":"host"}` || p.Attributes["role"] != "host" {
			t.Errorf("%s: metadata %q attributes %v", id, p.Metadata, p.Attributes)
		}
	}
	// The validators still apply with the grant.
	if status, body := rawDial(t, srv, granted("host-bad"), "metadata="+strings.Repeat("m", 65000)); status != 400 || !strings.Contains(body, "limit is 64000") {
		t.Errorf("over-long metadata with the grant: %d %q", status, body)
	}
}

// Malformed join parameters are refused with 400 and a reason naming the parameter.
func TestMalformedJoinParamsAreRefused(t *testing.T) {
	srv := testutil.StartServer(t)
	tok := testutil.JoinToken(t, "params", "p", testutil.WithGrant(&lkauth.VideoGrant{CanUpdateOwnMetadata: ptr(true)}))
	b64 := func(s string) string { return url.QueryEscape(base64.URLEncoding.EncodeToString([]byte(s))) }
	cases := []struct{ query, want string }{
		{"attributes=" + b64("null"), "attributes must be base64 of a JSON object of strings"},
		{"attributes=" + b64(`["a","b"]`), "attributes must be base64 of a JSON object of strings"},
		{"attributes=" + b64(`{"a":1}`), "attributes must be base64 of a JSON object of strings"},
		{"attributes=%21%21%21", "attributes must be base64 of a JSON object of strings"},
		{"attributes=" + b64(`{"a":"b"}`) + "&attributes=" + b64(`{"c":"d"}`), "the attributes parameter is given 2 times"},
		{"metadata=" + strings.Repeat("m", 65000), "the metadata parameter is 65000 bytes; the limit is 64000"},
		{"reconnect=1&sid=" + strings.Repeat("s", 100), "sid"},
		{"protocol=16&protocol=17", "the protocol parameter is given 2 times"},
		{"os=" + strings.Repeat("o", 300), "os is 300 bytes; the limit is 256"},
	}
	for _, tc := range cases {
		status, body := rawDial(t, srv, tok, tc.query)
		if status != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%.60s: %d %.200q, want 400 mentioning %q", tc.query, status, body, tc.want)
		}
		if len(body) > 400 {
			t.Errorf("%.60s: the reason is %d bytes long", tc.query, len(body))
		}
		if vs, vb := rawValidate(t, srv, tok, tc.query); vs != status || vb != body {
			t.Errorf("validate %.60s: %d %.200q", tc.query, vs, vb)
		}
	}
}

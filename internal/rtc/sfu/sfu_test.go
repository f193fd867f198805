package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var (
	vp8Codec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
	opusCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}
)

const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// sent is one packet a fake subscriber transport received.
type sent struct {
	hdr     rtp.Header
	payload []byte
}

// fakeWriter stands for a subscriber's transport.
type fakeWriter struct {
	out  []sent
	keep bool
}

func (w *fakeWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.keep {
		c := sent{hdr: *h, payload: append([]byte(nil), payload...)}
		c.hdr.Extensions = nil
		for _, id := range h.GetExtensionIDs() {
			_ = c.hdr.SetExtension(id, append([]byte(nil), h.GetExtension(id)...))
		}
		w.out = append(w.out, c)
	}
	return len(payload), nil
}

func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }

// fakeContext is what Pion hands a track when it binds it to a peer connection.
type fakeContext struct {
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	ssrc   webrtc.SSRC
	w      webrtc.TrackLocalWriter
}

func (c *fakeContext) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c *fakeContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *fakeContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *fakeContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *fakeContext) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c *fakeContext) ID() string                                             { return "ctx" }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader                     { return nil }
func (c *fakeContext) bind(t *testing.T, d *DownTrack) webrtc.RTPCodecParameters {
	t.Helper()
	p, err := d.Bind(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Unbind(c) })
	return p
}

// vp8Payload is a VP8 payload descriptor (S set, PID 0) and a payload header whose P
// bit says keyframe or not, then a counter.
func vp8Payload(key bool, n byte) []byte {
	p := byte(1)
	if key {
		p = 0
	}
	return []byte{0x10, p, 0x9d, 0x01, 0x2a, n}
}

func packet(seq uint16, ts uint32, payload []byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq, Timestamp: ts, SSRC: 0xabc}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

func TestDownTrackRewritesAndWaitsForAKeyframe(t *testing.T) {
	var pliCount int
	r := NewReceiver(ReceiverParams{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	r.startLayerForTest(0, func() { pliCount++ })
	d := NewSimpleDownTrack(r, "TR_v", "PA_p|TR_v")
	w := &fakeWriter{keep: true}
	ctx := &fakeContext{codecs: []webrtc.RTPCodecParameters{opusCodec, {RTPCodecCapability: vp8Codec.RTPCodecCapability, PayloadType: 120}}, ssrc: 777, w: w}
	if got := ctx.bind(t, d); got.PayloadType != 120 {
		t.Fatalf("bound payload type %d", got.PayloadType)
	}
	r.AddDownTrack(d)
	var pkt rtp.Packet
	now := time.Now().UnixNano()
	r.forward(0, packet(1000, 5000, vp8Payload(false, 1)), &pkt, now) // delta: dropped, keyframe asked
	r.forward(0, packet(1001, 8000, vp8Payload(true, 2)), &pkt, now)
	r.forward(0, packet(1002, 8000, vp8Payload(false, 3)), &pkt, now)
	if len(w.out) != 2 || w.out[0].payload[5] != 2 || w.out[1].payload[5] != 3 {
		t.Fatalf("forwarded %v", w.out)
	}
	h := w.out[0].hdr
	if h.SSRC != 777 || h.PayloadType != 120 || w.out[1].hdr.SequenceNumber != h.SequenceNumber+1 {
		t.Fatalf("headers not rewritten: %+v %+v", h, w.out[1].hdr)
	}
	if pliCount == 0 {
		t.Error("no keyframe was requested while waiting for one")
	}
}

func TestMuteResumesContinuouslyOnAKeyframe(t *testing.T) {
	r := NewReceiver(ReceiverParams{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	r.startLayerForTest(0, nil)
	d := NewSimpleDownTrack(r, "TR_v", "PA_p|TR_v")
	w := &fakeWriter{keep: true}
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{vp8Codec}, ssrc: 1, w: w}).bind(t, d)
	r.AddDownTrack(d)
	var pkt rtp.Packet
	t0 := time.Now().UnixNano()
	r.forward(0, packet(10, 90000, vp8Payload(true, 1)), &pkt, t0)
	r.forward(0, packet(11, 93000, vp8Payload(false, 2)), &pkt, t0+33e6)
	r.SetMuted(true)
	for i := range 50 { // sent while muted: none forwarded
		r.forward(0, packet(uint16(12+i), uint32(96000+3000*i), vp8Payload(i%10 == 0, 100)), &pkt, t0+int64(i+2)*33e6)
	}
	r.SetMuted(false)
	r.forward(0, packet(62, 246000, vp8Payload(false, 3)), &pkt, t0+2e9) // delta after unmute: dropped
	r.forward(0, packet(63, 249000, vp8Payload(true, 4)), &pkt, t0+2e9+33e6)
	var got []byte
	for _, s := range w.out {
		got = append(got, s.payload[5])
	}
	if string(got) != "\x01\x02\x04" {
		t.Fatalf("forwarded counters %v, want 1 2 4", got)
	}
	a, b := w.out[1].hdr, w.out[2].hdr
	if b.SequenceNumber != a.SequenceNumber+1 {
		t.Errorf("sequence gap across the mute: %d then %d", a.SequenceNumber, b.SequenceNumber)
	}
	// About 2 s of wall time passed: the timestamp advances by about 2 s of 90 kHz.
	if adv := b.Timestamp - a.Timestamp; adv < 170000 || adv > 190000 {
		t.Errorf("timestamp advanced %d across the mute, want about %d", adv, 180000)
	}
}

func TestPausedSubscriberGetsNothingOthersGetEverything(t *testing.T) {
	r := NewReceiver(ReceiverParams{TrackID: "TR_a", Kind: webrtc.RTPCodecTypeAudio, Codec: opusCodec,
		Extensions: []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 1}, {URI: "urn:ietf:params:rtp-hdrext:sdes:mid", ID: 4}}})
	r.startLayerForTest(0, nil)
	wa, wb := &fakeWriter{keep: true}, &fakeWriter{keep: true}
	a, b := NewSimpleDownTrack(r, "TR_a", "s"), NewSimpleDownTrack(r, "TR_a", "s")
	exts := []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 10}, {URI: "urn:ietf:params:rtp-hdrext:sdes:mid", ID: 3}}
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{opusCodec}, exts: exts, ssrc: 1, w: wa}).bind(t, a)
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{opusCodec}, exts: exts, ssrc: 2, w: wb}).bind(t, b)
	r.AddDownTrack(a)
	r.AddDownTrack(b)
	b.SetPaused(true)
	var pkt rtp.Packet
	for i := range 5 {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(960 * i), SSRC: 9}, Payload: []byte{0xfc, byte(i)}}
		_ = p.SetExtension(1, []byte{0x80 | 30})
		_ = p.SetExtension(4, []byte("0"))
		raw, _ := p.Marshal()
		r.forward(0, raw, &pkt, time.Now().UnixNano())
	}
	if len(wa.out) != 5 || len(wb.out) != 0 {
		t.Fatalf("a got %d, paused b got %d", len(wa.out), len(wb.out))
	}
	h := wa.out[0].hdr
	if lvl := h.GetExtension(10); len(lvl) != 1 || lvl[0] != 0x80|30 {
		t.Errorf("audio level not mapped to the subscriber's ID: %v", h.GetExtensionIDs())
	}
	if h.GetExtension(3) != nil || h.GetExtension(4) != nil || h.GetExtension(1) != nil {
		t.Errorf("a hop extension was forwarded: %v", h.GetExtensionIDs())
	}
	r.RemoveDownTrack(a)
	r.forward(0, packet(5, 4800, []byte{0xfc, 5}), &pkt, time.Now().UnixNano())
	if len(wa.out) != 5 {
		t.Error("a removed down track still receives packets")
	}
}

// A subscriber that cannot decode a track gets nothing of it, but its description
// still applies (every other track of it works).
func TestATrackTheSubscriberCannotDecodeStaysSilent(t *testing.T) {
	r := NewReceiver(ReceiverParams{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	r.startLayerForTest(0, nil)
	d := NewSimpleDownTrack(r, "TR_v", "s")
	w := &fakeWriter{keep: true}
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, PayloadType: 102}
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{h264}, w: w}).bind(t, d)
	r.AddDownTrack(d)
	var pkt rtp.Packet
	r.forward(0, packet(1, 1, vp8Payload(true, 1)), &pkt, time.Now().UnixNano())
	if len(w.out) != 0 {
		t.Fatalf("VP8 was sent to a subscriber that only takes H.264: %v", w.out)
	}
}

// A down track with nothing to forward sends filler packets (video padding, audio
// silence) until media flows, so SDKs that wait for a first packet learn of the track.
func TestSilentTracksGetFillersUntilMediaFlows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  webrtc.RTPCodecType
		codec webrtc.RTPCodecParameters
	}{{"video", webrtc.RTPCodecTypeVideo, vp8Codec}, {"audio", webrtc.RTPCodecTypeAudio, opusCodec}} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReceiver(ReceiverParams{TrackID: "TR", Kind: tc.kind, Codec: tc.codec})
			r.startLayerForTest(0, nil)
			r.SetMuted(true)
			d := NewSimpleDownTrack(r, "TR", "s")
			w := &syncWriter{}
			(&fakeContext{codecs: []webrtc.RTPCodecParameters{tc.codec}, ssrc: 9, w: w}).bind(t, d)
			r.AddDownTrack(d)
			deadline := time.Now().Add(5 * time.Second)
			for d.Stats().Fillers < 3 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			out := w.take()
			if len(out) < 3 {
				t.Fatalf("%d fillers", len(out))
			}
			for i, s := range out {
				if s.hdr.SSRC != 9 || (i > 0 && s.hdr.SequenceNumber != out[i-1].hdr.SequenceNumber+1) {
					t.Fatalf("filler %d: %+v", i, s.hdr)
				}
				if tc.kind == webrtc.RTPCodecTypeVideo && (!s.hdr.Padding || int(s.payload[len(s.payload)-1]) != len(s.payload)) {
					t.Fatalf("video filler is not all padding: %+v %x", s.hdr, s.payload)
				}
			}
			// Media starts: fillers stop, and the sequence goes on from them.
			r.SetMuted(false)
			var pkt rtp.Packet
			payload := vp8Payload(true, 7)
			if tc.kind == webrtc.RTPCodecTypeAudio {
				payload = []byte{0xfc, 7}
			}
			r.forward(0, packet(500, 900, payload), &pkt, time.Now().UnixNano())
			media := w.take()
			last := out[len(out)-1].hdr.SequenceNumber
			for _, s := range media {
				last++
				if s.hdr.SequenceNumber != last {
					t.Fatalf("sequence %d after fillers, want %d", s.hdr.SequenceNumber, last)
				}
			}
			if n := d.Stats().Fillers; n != uint64(len(out)+len(media)-1) {
				t.Logf("fillers %d, media %d", n, len(media))
			}
			if len(media) == 0 || media[len(media)-1].payload[len(media[len(media)-1].payload)-1] != 7 {
				t.Fatalf("the media packet did not follow the fillers: %v", media)
			}
		})
	}
}

// syncWriter is a fakeWriter safe for the filler goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  fakeWriter
}

func (s *syncWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.keep = true
	return s.w.WriteRTP(h, payload)
}

func (s *syncWriter) Write(b []byte) (int, error) { return len(b), nil }

func (s *syncWriter) take() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.w.out
	s.w.out = nil
	return out
}

func TestKeyframeDetection(t *testing.T) {
	cases := []struct {
		name   string
		family int
		p      []byte
		want   bool
	}{
		{"vp8 key", codecVP8, []byte{0x10, 0x00}, true},
		{"vp8 delta", codecVP8, []byte{0x10, 0x01}, false},
		{"vp8 key, not the partition start", codecVP8, []byte{0x00, 0x00}, false},
		{"vp8 key with picture id", codecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 delta with picture id", codecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x01}, false},
		{"vp8 truncated", codecVP8, []byte{0x90, 0x80}, false},
		{"h264 IDR", codecH264, []byte{0x65, 0x88}, true},
		{"h264 SPS", codecH264, []byte{0x67, 0x42}, true},
		{"h264 non-IDR", codecH264, []byte{0x41, 0x9a}, false},
		{"h264 STAP-A with SPS", codecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A without", codecH264, []byte{0x78, 0x00, 0x02, 0x41, 0x42}, false},
		{"h264 FU-A IDR start", codecH264, []byte{0x7c, 0x85}, true},
		{"h264 FU-A IDR middle", codecH264, []byte{0x7c, 0x05}, false},
		{"vp9 key", codecVP9, []byte{0x08}, true},
		{"vp9 inter", codecVP9, []byte{0x48}, false},
		{"vp9 key, middle of a frame", codecVP9, []byte{0x00}, false},
		{"av1 new sequence", codecAV1, []byte{0x08}, true},
		{"av1 continuation", codecAV1, []byte{0x80}, false},
		{"h265 IDR", codecH265, []byte{19 << 1, 1}, true},
		{"h265 trailing", codecH265, []byte{1 << 1, 1}, false},
		{"empty", codecVP8, nil, false},
	}
	for _, tc := range cases {
		if got := isKeyframeStart(tc.family, tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMungerDropsLatePacketsOfAPreviousSegment(t *testing.T) {
	m := munger{clockRate: 48000}
	m.startSegment(100, 1000, 0)
	if s, _, ok := m.munge(100, 1000, 0); !ok || s != 100 {
		t.Fatalf("first packet: %d %v", s, ok)
	}
	m.munge(101, 1960, 0)
	m.pause()
	m.startSegment(500, 99999, 1e9)
	if _, _, ok := m.munge(499, 99000, 1e9); ok {
		t.Error("a packet from before the segment was forwarded")
	}
	if s, ts, ok := m.munge(500, 99999, 1e9); !ok || s != 102 || ts != 1960+48000 {
		t.Errorf("resumed at %d %d, want 102 %d", s, ts, 1960+48000)
	}
	m.skip(501)
	if s, _, _ := m.munge(502, 100000, 1e9); s != 103 {
		t.Errorf("after a skip: %d, want 103", s)
	}
}

// startLayerForTest marks a layer as being read, as Run does, without a source.
func (r *Receiver) startLayerForTest(i int, requestKeyframe func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.layers[i].requestKeyframe = requestKeyframe
	r.layers[i].running.Store(true)
	r.layers[i].lastPacket.Store(time.Now().UnixNano())
	r.running++
}

func TestSimulcastSwitchesOnAKeyframeOfTheTargetLayer(t *testing.T) {
	var asked [MaxLayers]int
	r := NewReceiver(ReceiverParams{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	for i := range MaxLayers {
		r.startLayerForTest(i, func() { asked[i]++ })
	}
	d := NewSimpleDownTrack(r, "TR_v", "s")
	w := &fakeWriter{keep: true}
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{vp8Codec}, ssrc: 1, w: w}).bind(t, d)
	r.AddDownTrack(d)
	var pkts [MaxLayers]rtp.Packet
	now := time.Now().UnixNano()
	send := func(l int, seq uint16, key bool, n byte) {
		r.forward(l, packet(seq, uint32(seq)*3000, vp8Payload(key, n)), &pkts[l], now)
		now += 10e6
	}
	// The highest layer by default: layers 0 and 1 are ignored.
	send(0, 1, true, 10)
	send(1, 1, true, 11)
	send(2, 1, true, 12)
	send(2, 2, false, 13)
	if d.CurrentLayer() != 2 || len(w.out) != 2 {
		t.Fatalf("layer %d, %d packets", d.CurrentLayer(), len(w.out))
	}
	// Ask for the lowest: layer 2 goes on until layer 0 brings a keyframe.
	d.SetTargetLayer(0)
	if asked[0] == 0 {
		t.Error("no keyframe asked for on the target layer")
	}
	send(0, 2, false, 20)
	send(2, 3, false, 14)
	send(0, 3, true, 21)
	send(2, 4, false, 15)
	send(0, 4, false, 22)
	var got []byte
	for _, s := range w.out {
		got = append(got, s.payload[5])
	}
	if string(got) != string([]byte{12, 13, 14, 21, 22}) {
		t.Fatalf("forwarded %v", got)
	}
	for i := 1; i < len(w.out); i++ {
		if w.out[i].hdr.SequenceNumber != w.out[i-1].hdr.SequenceNumber+1 {
			t.Fatalf("sequence gap at the switch: %d then %d", w.out[i-1].hdr.SequenceNumber, w.out[i].hdr.SequenceNumber)
		}
		if int32(w.out[i].hdr.Timestamp-w.out[i-1].hdr.Timestamp) <= 0 {
			t.Fatalf("timestamp went back at %d", i)
		}
	}
	if d.Stats().Switches != 1 {
		t.Errorf("switches = %d", d.Stats().Switches)
	}
}

func TestREDIsUnwrappedForSubscribersWithoutIt(t *testing.T) {
	red := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63,
	}
	r := NewReceiver(ReceiverParams{TrackID: "TR_a", Kind: webrtc.RTPCodecTypeAudio, Codec: red})
	r.startLayerForTest(0, nil)
	withRED, withoutRED := &fakeWriter{keep: true}, &fakeWriter{keep: true}
	a := NewDownTrack(DownTrackParams{ID: "TR_a", StreamID: "s", Kind: webrtc.RTPCodecTypeAudio,
		Codecs: []webrtc.RTPCodecParameters{red, opusCodec}, Sources: []*Receiver{r}})
	b := NewDownTrack(DownTrackParams{ID: "TR_a", StreamID: "s", Kind: webrtc.RTPCodecTypeAudio,
		Codecs: []webrtc.RTPCodecParameters{red, opusCodec}, Sources: []*Receiver{r}})
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{red, opusCodec}, ssrc: 1, w: withRED}).bind(t, a)
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{opusCodec}, ssrc: 2, w: withoutRED}).bind(t, b)
	// One redundant block (3 bytes, 960 ticks old) and the primary (2 bytes).
	payload := []byte{0x80 | 111, 0x0f, 0x00, 0x03, 111, 0xaa, 0xbb, 0xcc, 0x11, 0x22}
	var pkt rtp.Packet
	r.forward(0, packet(1, 48000, payload), &pkt, time.Now().UnixNano())
	r.forward(0, packet(2, 48960, []byte{0x80 | 111, 0x0f, 0x00, 0x09}), &pkt, time.Now().UnixNano()) // malformed
	if len(withRED.out) != 2 || string(withRED.out[0].payload) != string(payload) {
		t.Fatalf("the RED subscriber got %v", withRED.out)
	}
	if len(withoutRED.out) != 1 || string(withoutRED.out[0].payload) != "\x11\x22" || withoutRED.out[0].hdr.PayloadType != uint8(opusCodec.PayloadType) {
		t.Fatalf("the Opus subscriber got %v", withoutRED.out)
	}
	for _, tc := range []struct {
		p    []byte
		want string
		ok   bool
	}{
		{[]byte{111, 1, 2}, "\x01\x02", true},
		{[]byte{0x80 | 111, 0, 0, 1, 111, 9, 7}, "\x07", true},
		{[]byte{0x80 | 111, 0, 0}, "", false},
		{[]byte{0x80 | 111, 0, 0, 5, 111, 1}, "", false},
		{nil, "", false},
	} {
		got, ok := redPrimary(tc.p)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("redPrimary(%x) = %x %v", tc.p, got, ok)
		}
	}
}

// Sender reports carry the publisher's time mapping in the subscriber's timestamps, so
// a subscriber syncs audio and video as the publisher captured them.
func TestSenderReportsTranslateThePublishersMapping(t *testing.T) {
	r := NewReceiver(ReceiverParams{TrackID: "TR_v", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	r.startLayerForTest(0, nil)
	d := NewSimpleDownTrack(r, "TR_v", "s")
	w := &fakeWriter{keep: true}
	(&fakeContext{codecs: []webrtc.RTPCodecParameters{vp8Codec}, ssrc: 5, w: w}).bind(t, d)
	if d.SenderReport(time.Now()) != nil {
		t.Fatal("a sender report before anything was sent")
	}
	var pkt rtp.Packet
	now := time.Now()
	r.forward(0, packet(100, 1_000_000, vp8Payload(true, 1)), &pkt, now.UnixNano())
	// Without a publisher report: the newest packet's timestamp at the time it was sent.
	sr := d.SenderReport(now)
	if sr == nil || sr.SSRC != 5 || sr.RTPTime != w.out[0].hdr.Timestamp || sr.PacketCount != 1 {
		t.Fatalf("fallback report %+v", sr)
	}
	// With one: the publisher's NTP time, at its RTP time moved by d's offset.
	r.SetSenderReport(0, 0xABCDEF0012345678, 999_000)
	sr = d.SenderReport(now)
	offset := w.out[0].hdr.Timestamp - 1_000_000
	if sr.NTPTime != 0xABCDEF0012345678 || sr.RTPTime != 999_000+offset {
		t.Fatalf("report %+v, want NTP %x RTP %d", sr, uint64(0xABCDEF0012345678), 999_000+offset)
	}
}

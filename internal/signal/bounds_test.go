package signal

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// boundsRoots are the messages a client sends: on the signal connection, in the
// join_request parameter, and on its data channels.
var boundsRoots = []proto.Message{
	&livekit.SignalRequest{}, &livekit.WrappedJoinRequest{}, &livekit.JoinRequest{}, &livekit.DataPacket{},
}

// needsLimit reports whether a field can grow without bound.
func needsLimit(fd protoreflect.FieldDescriptor) bool {
	return fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind
}

// fieldTarget is a bounded field and how to reach its message from a root.
type fieldTarget struct {
	fd   protoreflect.FieldDescriptor
	root proto.Message
	path []protoreflect.FieldDescriptor // from the root to the field's message
}

// reachableFields walks every message type reachable from the roots (breadth first, so
// each field gets its shortest path) and returns every field that needs a limit.
func reachableFields() []fieldTarget {
	type node struct {
		md   protoreflect.MessageDescriptor
		root proto.Message
		path []protoreflect.FieldDescriptor
	}
	seen := map[protoreflect.FullName]bool{}
	var queue []node
	for _, r := range boundsRoots {
		queue = append(queue, node{r.ProtoReflect().Descriptor(), r, nil})
	}
	var out []fieldTarget
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n.md.FullName()] {
			continue
		}
		seen[n.md.FullName()] = true
		fields := n.md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if needsLimit(fd) {
				out = append(out, fieldTarget{fd, n.root, n.path})
			}
			var next protoreflect.MessageDescriptor
			switch {
			case fd.IsMap():
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					next = fd.MapValue().Message()
				}
			case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
				next = fd.Message()
			}
			if next != nil {
				path := append(append([]protoreflect.FieldDescriptor(nil), n.path...), fd)
				queue = append(queue, node{next, n.root, path})
			}
		}
	}
	return out
}

// A protocol upgrade that adds a field must fail here until someone decides its limit.
func TestBoundsCoverEveryField(t *testing.T) {
	table := fieldLimits(config.Default().Limit)
	reached := map[protoreflect.FullName]bool{}
	for _, f := range reachableFields() {
		name := f.fd.FullName()
		reached[name] = true
		l, ok := table[name]
		switch {
		case !ok:
			t.Errorf("%s (%s) has no entry in fieldLimits: decide its limit", name, kindOf(f.fd))
		case (f.fd.IsList() || f.fd.IsMap()) && l.items <= 0:
			t.Errorf("%s: a repeated or map field needs items > 0", name)
		case f.fd.IsMap() && f.fd.MapKey().Kind() == protoreflect.StringKind && l.keyBytes <= 0:
			t.Errorf("%s: a map with string keys needs keyBytes > 0", name)
		case elemIsText(f.fd) && l.bytes <= 0:
			t.Errorf("%s: a string or bytes value needs bytes > 0", name)
		}
	}
	for name := range table {
		if !reached[name] {
			t.Errorf("fieldLimits has an entry for %s, which no client message reaches", name)
		}
	}
	// Every variant of SignalRequest has an encoded-size budget.
	b := NewBounds(config.Default().Limit)
	variants := (&livekit.SignalRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("message").Fields()
	for i := range variants.Len() {
		fd := variants.Get(i)
		if budget, ok := b.requests[fd.Name()]; !ok || budget <= 0 || budget > maxFrameSize {
			t.Errorf("SignalRequest.%s has no budget within the frame size (%d)", fd.Name(), budget)
		}
	}
	if len(b.requests) != variants.Len()+1 {
		t.Errorf("the budgets name %d variants; SignalRequest has %d", len(b.requests)-1, variants.Len())
	}
}

func elemIsText(fd protoreflect.FieldDescriptor) bool {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	return fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind
}

func kindOf(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.IsList():
		return "repeated " + fd.Kind().String()
	}
	return fd.Kind().String()
}

// build returns a new root message with the path to f's message filled in, and that
// message.
func (f fieldTarget) build() (proto.Message, protoreflect.Message) {
	root := f.root.ProtoReflect().New()
	m := root
	for _, fd := range f.path {
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			e := l.NewElement()
			l.Append(e)
			m = e.Message()
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			v := mp.NewValue()
			mp.Set(protoreflect.ValueOfString("k").MapKey(), v)
			m = v.Message()
		default:
			m = m.Mutable(fd).Message()
		}
	}
	return root.Interface(), m
}

// check runs the checker of the root's type.
func check(b *Bounds, m proto.Message) error {
	switch m := m.(type) {
	case *livekit.SignalRequest:
		return b.CheckSignalRequest(m)
	case *livekit.JoinRequest:
		return b.CheckJoinRequest(m)
	case *livekit.WrappedJoinRequest:
		return b.CheckWrappedJoinRequest(m)
	case *livekit.DataPacket:
		return b.CheckDataPacket(m)
	}
	panic(fmt.Sprintf("no checker for %T", m))
}

func textValue(fd protoreflect.FieldDescriptor, n int) protoreflect.Value {
	if fd.Kind() == protoreflect.BytesKind {
		return protoreflect.ValueOfBytes(make([]byte, n))
	}
	return protoreflect.ValueOfString(strings.Repeat("a", n))
}

// overLimit describes one way to put a field just over one of its limits.
type overLimit struct {
	what  string
	limit int
	set   func(m protoreflect.Message)
}

func overLimits(fd protoreflect.FieldDescriptor, l fieldLimit) []overLimit {
	var out []overLimit
	switch {
	case fd.IsMap():
		out = append(out, overLimit{"entries", l.items, func(m protoreflect.Message) {
			mp := m.Mutable(fd).Map()
			for i := range l.items + 1 {
				mp.Set(mapKey(fd, i), mp.NewValue())
			}
		}})
		if fd.MapKey().Kind() == protoreflect.StringKind {
			out = append(out, overLimit{"key bytes", l.keyBytes, func(m protoreflect.Message) {
				m.Mutable(fd).Map().Set(protoreflect.ValueOfString(strings.Repeat("k", l.keyBytes+1)).MapKey(), m.Mutable(fd).Map().NewValue())
			}})
		}
		if elemIsText(fd) {
			out = append(out, overLimit{"value bytes", l.bytes, func(m protoreflect.Message) {
				m.Mutable(fd).Map().Set(mapKey(fd, 0), textValue(fd.MapValue(), l.bytes+1))
			}})
		}
	case fd.IsList():
		out = append(out, overLimit{"elements", l.items, func(m protoreflect.Message) {
			lst := m.Mutable(fd).List()
			for range l.items + 1 {
				lst.Append(lst.NewElement())
			}
		}})
		if elemIsText(fd) {
			out = append(out, overLimit{"element bytes", l.bytes, func(m protoreflect.Message) {
				m.Mutable(fd).List().Append(textValue(fd, l.bytes+1))
			}})
		}
	default:
		out = append(out, overLimit{"bytes", l.bytes, func(m protoreflect.Message) {
			m.Set(fd, textValue(fd, l.bytes+1))
		}})
	}
	return out
}

func mapKey(fd protoreflect.FieldDescriptor, i int) protoreflect.MapKey {
	if fd.MapKey().Kind() == protoreflect.StringKind {
		return protoreflect.ValueOfString("k" + strconv.Itoa(i)).MapKey()
	}
	return protoreflect.ValueOfInt64(int64(i)).MapKey()
}

// For every limited field, a message just over the limit is refused with an error that
// names the field and the limit; the same message at the limit is not refused for that
// field.
func TestBoundsRefuseJustOverEveryLimit(t *testing.T) {
	b := NewBounds(config.Default().Limit)
	for _, f := range reachableFields() {
		l := b.limitOf(f.fd)
		for _, o := range overLimits(f.fd, l) {
			root, m := f.build()
			o.set(m)
			err := check(b, root)
			name := string(f.fd.FullName())
			if !errors.Is(err, ErrLimitExceeded) {
				t.Errorf("%s just over its %s limit (%d): %v", name, o.what, o.limit, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, string(f.fd.Name())) || !strings.Contains(msg, "the limit is "+strconv.Itoa(o.limit)) {
				t.Errorf("%s over its %s limit: %q does not name the field and its limit %d", name, o.what, msg, o.limit)
			}
			if len(msg) > 512 {
				t.Errorf("%s: the error is %d bytes", name, len(msg))
			}
		}
	}
}

// realisticVideoSection is a browser's video media section: every codec with its rtx,
// feedback and format lines, and three simulcast layers.
func realisticVideoSection(mid int) string {
	var sb strings.Builder
	pts := []int{96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125}
	fmt.Fprintf(&sb, "m=video 9 UDP/TLS/RTP/SAVPF")
	for _, pt := range pts {
		fmt.Fprintf(&sb, " %d", pt)
	}
	fmt.Fprintf(&sb, "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n")
	fmt.Fprintf(&sb, "a=ice-options:trickle\r\na=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:%d\r\n", strings.Repeat("AB:", 31)+"AB", mid)
	for i, ext := range []string{"urn:ietf:params:rtp-hdrext:toffset", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "urn:3gpp:video-orientation",
		"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
		"http://www.webrtc.org/experiments/rtp-hdrext/video-content-type", "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
		"http://www.webrtc.org/experiments/rtp-hdrext/color-space", "urn:ietf:params:rtp-hdrext:sdes:mid",
		"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"} {
		fmt.Fprintf(&sb, "a=extmap:%d %s\r\n", i+1, ext)
	}
	fmt.Fprintf(&sb, "a=sendonly\r\na=msid:%s %s\r\na=rtcp-mux\r\na=rtcp-rsize\r\n", "d9b2f9c6-0b3c-4b6e-9d6e-3c2f1a0e5b7d", fmt.Sprintf("8f0e1a2b-3c4d-4e5f-8a9b-%012d", mid))
	codecs := []string{"VP8", "VP9", "VP9", "VP9", "VP9", "H264", "H264", "H264", "H264", "H264", "H264", "AV1", "AV1", "H265"}
	for i, c := range codecs {
		pt, rtx := pts[2*i], pts[2*i+1]
		fmt.Fprintf(&sb, "a=rtpmap:%d %s/90000\r\n", pt, c)
		for _, fb := range []string{"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"} {
			fmt.Fprintf(&sb, "a=rtcp-fb:%d %s\r\n", pt, fb)
		}
		if c != "VP8" {
			fmt.Fprintf(&sb, "a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n", pt)
		}
		fmt.Fprintf(&sb, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", rtx, rtx, pt)
	}
	fmt.Fprintf(&sb, "a=rtpmap:124 red/90000\r\na=rtpmap:125 ulpfec/90000\r\n")
	fmt.Fprintf(&sb, "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n")
	return sb.String()
}

// A single peer connection offer that sends 64 video tracks, the most a participant
// may publish, is within the bounds.
func TestRealisticOffersFitTheBounds(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE")
	for i := range room.MaxTracksPerParticipant {
		fmt.Fprintf(&sb, " %d", i)
	}
	sb.WriteString("\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n")
	for i := range room.MaxTracksPerParticipant {
		sb.WriteString(realisticVideoSection(i))
	}
	sdp := sb.String()
	t.Logf("a 64-video-track offer is %d bytes (%d per section); the limit is %d", len(sdp), len(sdp)/room.MaxTracksPerParticipant, rtc.MaxSDPSize)
	b := NewBounds(config.Default().Limit)
	req := &livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: sdp, Id: 7}}}
	if err := b.CheckSignalRequest(req); err != nil {
		t.Fatalf("a realistic 64-track offer is refused: %v", err)
	}
	tracks, err := rtc.SendingTracks(sdp)
	if err != nil || len(tracks) != room.MaxTracksPerParticipant {
		t.Fatalf("SendingTracks: %d tracks, %v", len(tracks), err)
	}
	// In single peer connection mode the offer travels in the join_request parameter.
	jr := &livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "offer", Sdp: sdp}}
	if err := b.CheckJoinRequest(jr); err != nil {
		t.Fatalf("a join_request with a realistic 64-track offer is refused: %v", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(sdp))
	_ = zw.Close()
	t.Logf("gzipped and in base64 (a join_request), it is %d bytes", base64.URLEncoding.EncodedLen(gz.Len()))

	// What the SDKs send to publish a simulcast camera with a backup codec, and a
	// microphone with every audio feature.
	camera := &livekit.AddTrackRequest{
		Cid: "8f0e1a2b-3c4d-4e5f-8a9b-0123456789ab", Name: "camera", Type: livekit.TrackType_VIDEO, Width: 1280, Height: 720,
		Source: livekit.TrackSource_CAMERA, Stream: "camera",
		Layers: []*livekit.VideoLayer{
			{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180, Bitrate: 150000, Rid: "q"},
			{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360, Bitrate: 500000, Rid: "h"},
			{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720, Bitrate: 1700000, Rid: "f"},
		},
		BackupCodecPolicy: livekit.BackupCodecPolicy_SIMULCAST,
	}
	for _, c := range []string{"vp9", "vp8"} {
		camera.SimulcastCodecs = append(camera.SimulcastCodecs, &livekit.SimulcastCodec{Codec: c, Cid: camera.Cid, Layers: camera.Layers})
	}
	mic := &livekit.AddTrackRequest{Cid: "mic-0123456789", Name: "microphone", Type: livekit.TrackType_AUDIO, Source: livekit.TrackSource_MICROPHONE}
	for f := range livekit.AudioTrackFeature_name {
		mic.AudioFeatures = append(mic.AudioFeatures, livekit.AudioTrackFeature(f))
	}
	for _, at := range []*livekit.AddTrackRequest{camera, mic} {
		req := &livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: at}}
		if err := b.CheckSignalRequest(req); err != nil {
			t.Errorf("%s: %v", at.Name, err)
		}
		t.Logf("add_track %s is %d bytes; the budget is %d", at.Name, proto.Size(req), b.requests["add_track"])
	}
}

// The reviewer's attack: an add_track with 28,000 layers.
func TestBoundsRefuseTheLayerFlood(t *testing.T) {
	b := NewBounds(config.Default().Limit)
	at := &livekit.AddTrackRequest{Cid: "flood", Type: livekit.TrackType_VIDEO}
	for range 28000 {
		at.Layers = append(at.Layers, &livekit.VideoLayer{Quality: livekit.VideoQuality_HIGH, Width: 1920, Height: 1080, Rid: "f"})
	}
	err := b.CheckSignalRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: at}})
	if !errors.Is(err, ErrLimitExceeded) || err.Error() != "limit exceeded: add_track.layers has 28000 elements; the limit is 4" {
		t.Errorf("28000 layers: %v", err)
	}
	rr := limitExceeded(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: at}}, err)
	if rr.GetReason() != livekit.RequestResponse_LIMIT_EXCEEDED || rr.GetAddTrack().GetCid() != "flood" || len(rr.GetAddTrack().GetLayers()) != 0 {
		t.Errorf("refusal %v", rr)
	}
	// A request of an unknown variant (a newer protocol) is bounded too.
	unknown := &livekit.SignalRequest{}
	unknown.ProtoReflect().SetUnknown(protoreflect.RawFields(append([]byte{0xfa, 0x0f, 0x80, 0x80, 0x08}, make([]byte, 128<<10)...)))
	if err := b.CheckSignalRequest(unknown); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("an unknown 128 KiB request: %v", err)
	}
}

// Requests without a RequestResponse counterpart are dropped, not answered.
func TestLimitExceededAnswersOnlyAnswerableRequests(t *testing.T) {
	err := fmt.Errorf("%w: x", ErrLimitExceeded)
	answered := map[string]bool{}
	variants := (&livekit.SignalRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("message").Fields()
	for i := range variants.Len() {
		req := &livekit.SignalRequest{}
		fd := variants.Get(i)
		m := req.ProtoReflect()
		if fd.Kind() == protoreflect.MessageKind {
			m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
		} else {
			m.Set(fd, protoreflect.ValueOfInt64(1))
		}
		if rr := limitExceeded(req, err); rr != nil {
			answered[string(fd.Name())] = true
			if rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED || rr.Request == nil {
				t.Errorf("%s: %v", fd.Name(), rr)
			}
		}
	}
	// Every request type RequestResponse can carry is answered.
	reqs := (&livekit.RequestResponse{}).ProtoReflect().Descriptor().Oneofs().ByName("request").Fields()
	if len(answered) != reqs.Len() {
		t.Errorf("answered %v; RequestResponse carries %d request types", answered, reqs.Len())
	}
}

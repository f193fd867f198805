package signal

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// maxErrorLength bounds the text of any refusal of client input.
const maxErrorLength = 512

// withinLimits re-checks m against the table independently of Bounds.checkMessage: it
// visits fields by descriptor (not Range) and measures values itself. It returns the
// name of the first field over its limit, or "".
func withinLimits(table map[protoreflect.FullName]fieldLimit, m protoreflect.Message) string {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		l, ok := table[fd.FullName()]
		if !ok {
			l = defaultLimit
		}
		v := m.Get(fd)
		textLen := func(v protoreflect.Value, fd protoreflect.FieldDescriptor) int {
			if fd.Kind() == protoreflect.BytesKind {
				return len(v.Bytes())
			}
			return len(v.String())
		}
		switch {
		case fd.IsMap():
			if v.Map().Len() > l.items {
				return string(fd.FullName())
			}
			bad := ""
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind && len(k.String()) > l.keyBytes {
					bad = string(fd.FullName())
				}
				switch fd.MapValue().Kind() {
				case protoreflect.StringKind, protoreflect.BytesKind:
					if textLen(mv, fd.MapValue()) > l.bytes {
						bad = string(fd.FullName())
					}
				case protoreflect.MessageKind:
					if b := withinLimits(table, mv.Message()); b != "" {
						bad = b
					}
				}
				return bad == ""
			})
			if bad != "" {
				return bad
			}
		case fd.IsList():
			lst := v.List()
			if lst.Len() > l.items {
				return string(fd.FullName())
			}
			for j := range lst.Len() {
				switch fd.Kind() {
				case protoreflect.StringKind, protoreflect.BytesKind:
					if textLen(lst.Get(j), fd) > l.bytes {
						return string(fd.FullName())
					}
				case protoreflect.MessageKind:
					if b := withinLimits(table, lst.Get(j).Message()); b != "" {
						return b
					}
				}
			}
		case fd.Kind() == protoreflect.StringKind, fd.Kind() == protoreflect.BytesKind:
			if textLen(v, fd) > l.bytes {
				return string(fd.FullName())
			}
		case fd.Kind() == protoreflect.MessageKind:
			if b := withinLimits(table, v.Message()); b != "" {
				return b
			}
		}
	}
	return ""
}

// encodedLen measures a message by encoding it (Bounds uses proto.Size).
func encodedLen(t *testing.T, m proto.Message) int {
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("an accepted message does not encode: %v", err)
	}
	return len(data)
}

// FuzzSignalBounds: a decoded SignalRequest that passes the bounds check is within
// every field limit and its variant's budget (checked independently); the checker
// never panics and its errors are short.
func FuzzSignalBounds(f *testing.F) {
	for _, req := range fuzzSeedRequests() {
		data, _ := proto.Marshal(req)
		f.Add(data)
	}
	b := testBounds
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &livekit.SignalRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		err := b.CheckSignalRequest(req)
		if err != nil {
			if len(err.Error()) > maxErrorLength {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		if bad := withinLimits(b.fields, req.ProtoReflect()); bad != "" {
			t.Fatalf("accepted with %s over its limit", bad)
		}
		name := protoreflect.Name("")
		if fd := requestVariant(req); fd != nil {
			name = fd.Name()
		}
		budget, ok := b.requests[name]
		if !ok {
			budget = b.requests[""]
		}
		if n := encodedLen(t, req); n > budget {
			t.Fatalf("accepted %s of %d bytes; the budget is %d", name, n, budget)
		}
	})
}

// FuzzDataPacket: a decoded data packet that passes the bounds check is within every
// field limit and 64 KiB; the checker never panics.
func FuzzDataPacket(f *testing.F) {
	for _, pkt := range fuzzSeedPackets() {
		data, _ := proto.Marshal(pkt)
		f.Add(data)
	}
	b := testBounds
	f.Fuzz(func(t *testing.T, data []byte) {
		pkt := &livekit.DataPacket{}
		if proto.Unmarshal(data, pkt) != nil {
			return
		}
		if err := b.CheckDataPacket(pkt); err != nil {
			if len(err.Error()) > maxErrorLength {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		if bad := withinLimits(b.fields, pkt.ProtoReflect()); bad != "" {
			t.Fatalf("accepted with %s over its limit", bad)
		}
		if n := encodedLen(t, pkt); n > room.MaxDataPacketSize {
			t.Fatalf("accepted a packet of %d bytes", n)
		}
	})
}

// FuzzJoinParams parses a query string and, when joinRequest is not empty, a
// join_request wrapping it (compression 0: none, 1: gzip, other: unknown). Anything
// accepted respects every bound; refusals are short.
func FuzzJoinParams(f *testing.F) {
	f.Add("protocol=16&auto_subscribe=1&sdk=js&version=2.15.0&attributes=eyJhIjoiYiJ9&metadata=m", []byte(nil), uint8(0))
	f.Add("reconnect=1&sid=PA_abc&attributes=bnVsbA==", []byte(nil), uint8(0))
	for _, jr := range fuzzSeedJoinRequests() {
		data, _ := proto.Marshal(jr)
		f.Add("", data, uint8(0))
		f.Add("", data, uint8(1))
	}
	b := testBounds
	f.Fuzz(func(t *testing.T, query string, joinRequest []byte, compression uint8) {
		q, _ := url.ParseQuery(query)
		if len(joinRequest) > 0 {
			w := &livekit.WrappedJoinRequest{Compression: livekit.WrappedJoinRequest_Compression(compression), JoinRequest: joinRequest}
			if compression == 1 {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				_, _ = zw.Write(joinRequest)
				_ = zw.Close()
				w.JoinRequest = buf.Bytes()
			}
			data, _ := proto.Marshal(w)
			q.Set("join_request", base64.URLEncoding.EncodeToString(data))
		}
		jp, err := parseJoinParams(q, b)
		if err != nil {
			if len(err.Error()) > maxErrorLength {
				t.Fatalf("an error of %d bytes: %.100s…", len(err.Error()), err)
			}
			return
		}
		checkAcceptedParams(t, jp)
	})
}

// checkAcceptedParams re-checks every bound of accepted join parameters.
func checkAcceptedParams(t *testing.T, jp *joinParams) {
	l := testBounds.limits
	switch {
	case len(jp.metadata) > l.MaxMetadataSize:
		t.Fatalf("metadata of %d bytes", len(jp.metadata))
	case room.ValidateAttributes(l, jp.attributes) != nil || len(jp.attributes) > maxAttributeEntries:
		t.Fatalf("attributes %v", room.ValidateAttributes(l, jp.attributes))
	case !validSID(jp.sid):
		t.Fatalf("sid %q", jp.sid)
	case jp.clientInfo == nil:
		t.Fatalf("no client info")
	case len(jp.addTracks) > room.MaxTracksPerParticipant:
		t.Fatalf("%d tracks", len(jp.addTracks))
	case jp.publisherOffer != nil && (jp.publisherOffer.Type != "offer" || len(jp.publisherOffer.Sdp) > rtc.MaxSDPSize):
		t.Fatalf("publisher offer %q of %d bytes", jp.publisherOffer.Type, len(jp.publisherOffer.Sdp))
	}
	if bad := withinLimits(testBounds.fields, jp.clientInfo.ProtoReflect()); bad != "" {
		t.Fatalf("client info with %s over its limit", bad)
	}
	for _, at := range jp.addTracks {
		if bad := withinLimits(testBounds.fields, at.ProtoReflect()); bad != "" {
			t.Fatalf("add_track with %s over its limit", bad)
		}
	}
	if !jp.singlePC {
		for _, s := range []string{jp.clientInfo.Version, jp.clientInfo.Os, jp.clientInfo.OsVersion, jp.clientInfo.DeviceModel, jp.clientInfo.Browser, jp.clientInfo.BrowserVersion, jp.clientInfo.Network} {
			if checkClientText("client info", s) != nil {
				t.Fatalf("client info string %q", s)
			}
		}
	}
}

func fuzzSeedRequests() []*livekit.SignalRequest {
	return []*livekit.SignalRequest{
		{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
			Cid: "cid", Name: "camera", Type: livekit.TrackType_VIDEO, Layers: []*livekit.VideoLayer{{Rid: "q"}, {Rid: "f"}},
			SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: "vp8", Layers: []*livekit.VideoLayer{{Rid: "q"}}}},
			AudioFeatures:   []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX},
		}}},
		{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n", MidToTrackId: map[string]string{"0": "t"}}}},
		{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: `{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host"}`}}},
		{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 1}}},
		{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{Attributes: map[string]string{"k": "v"}}}},
		{Message: &livekit.SignalRequest_SyncState{SyncState: &livekit.SyncState{
			Subscription:  &livekit.UpdateSubscription{TrackSids: []string{"TR_a"}},
			PublishTracks: []*livekit.TrackPublishedResponse{{Cid: "c", Track: &livekit.TrackInfo{Sid: "TR_a", Layers: []*livekit.VideoLayer{{}}}}},
		}}},
	}
}

func fuzzSeedPackets() []*livekit.DataPacket {
	return []*livekit.DataPacket{
		{Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte("hello"), Topic: proto.String("chat"), DestinationIdentities: []string{"b"}}}},
		{Value: &livekit.DataPacket_ChatMessage{ChatMessage: &livekit.ChatMessage{Id: "id", Message: "hi"}}},
		{Value: &livekit.DataPacket_RpcRequest{RpcRequest: &livekit.RpcRequest{Id: "1", Method: "m", Payload: "{}"}}},
		{Value: &livekit.DataPacket_StreamChunk{StreamChunk: &livekit.DataStream_Chunk{StreamId: "s", Content: []byte("x")}}},
		{Value: &livekit.DataPacket_StreamHeader{StreamHeader: &livekit.DataStream_Header{StreamId: "s", Topic: "t", Attributes: map[string]string{"a": "b"}}}},
		{Value: &livekit.DataPacket_EncryptedPacket{EncryptedPacket: &livekit.EncryptedPacket{Iv: []byte("iv"), EncryptedValue: []byte("v")}}},
	}
}

func fuzzSeedJoinRequests() []*livekit.JoinRequest {
	return []*livekit.JoinRequest{
		{
			ClientInfo:         &livekit.ClientInfo{Sdk: livekit.ClientInfo_GO, Protocol: 16, Version: "2.19.0", Os: "linux"},
			ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
			AddTrackRequests:   []*livekit.AddTrackRequest{{Cid: "mic", Type: livekit.TrackType_AUDIO}},
			PublisherOffer:     &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n"},
		},
		{Reconnect: true, ParticipantSid: "PA_abc", Metadata: "m", ParticipantAttributes: map[string]string{"a": "b"}},
	}
}

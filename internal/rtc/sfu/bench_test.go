package sfu

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BenchmarkForward measures the forwarding path for one packet and one subscriber: the
// receiver's parse, the keyframe check and each down track's rewrite, with writes into
// a transport that discards them. ns/op is per packet per subscriber; allocs/op must be 0.
func BenchmarkForward(b *testing.B) {
	for _, subs := range []int{1, 50} {
		for _, kind := range []string{"audio", "video"} {
			b.Run(fmt.Sprintf("%s/%d-subscribers", kind, subs), func(b *testing.B) {
				codec, k := opusCodec, webrtc.RTPCodecTypeAudio
				payload := make([]byte, 120)
				if kind == "video" {
					codec, k = vp8Codec, webrtc.RTPCodecTypeVideo
					payload = make([]byte, 1100)
					copy(payload, vp8Payload(true, 0))
				}
				r := NewReceiver(ReceiverParams{TrackID: "TR", Kind: k, Codec: codec,
					Extensions: []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 1}}})
				r.startLayerForTest(0, nil)
				for i := range subs {
					d := NewSimpleDownTrack(r, "TR", "s")
					ctx := &fakeContext{codecs: []webrtc.RTPCodecParameters{codec}, ssrc: webrtc.SSRC(i + 1), w: &fakeWriter{},
						exts: []webrtc.RTPHeaderExtensionParameter{{URI: audioLevelURI, ID: 5}}}
					if _, err := d.Bind(ctx); err != nil {
						b.Fatal(err)
					}
					r.AddDownTrack(d)
				}
				p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: payload}
				_ = p.SetExtension(1, []byte{0x90})
				raw, _ := p.Marshal()
				var pkt rtp.Packet
				now := time.Now().UnixNano()
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += subs {
					raw[2], raw[3] = byte(i>>8), byte(i)
					r.forward(0, raw, &pkt, now)
				}
			})
		}
	}
}

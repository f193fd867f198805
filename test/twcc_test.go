package test

import (
	"sync/atomic"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/usher-rtc/usher/internal/testutil"
)

// twccFeedback counts the transport-wide CC feedback packets a peer connection receives.
type twccFeedback struct {
	interceptor.NoOp
	got atomic.Int64
}

func (f *twccFeedback) NewInterceptor(string) (interceptor.Interceptor, error) { return f, nil }

func (f *twccFeedback) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil {
			if pkts, perr := rtcp.Unmarshal(b[:n]); perr == nil {
				for _, p := range pkts {
					if _, ok := p.(*rtcp.TransportLayerCC); ok {
						f.got.Add(1)
					}
				}
			}
		}
		return n, a, err
	})
}

// A publisher that numbers its packets with transport-wide sequence numbers (as browsers
// do) gets transport-wide CC feedback from the server, which its bandwidth estimate, and
// so the video quality it sends, depends on.
func TestPublisherGetsTransportWideCCFeedback(t *testing.T) {
	srv := testutil.StartServer(t)
	fb := &twccFeedback{}
	seq, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	speaker := srv.Join(t, "class", "speaker", testutil.WithSDKOptions(
		lksdk.WithInterceptors([]interceptor.Factory{seq, fb}), lksdk.WithIncludeDefaultInterceptors(true)))
	tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := speaker.Room.LocalParticipant.PublishTrack(tr, &lksdk.TrackPublicationOptions{Name: "camera"}); err != nil {
		t.Fatal(err)
	}
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		_ = tr.WriteSample(media.Sample{Data: vp8Frame(n, n%30 == 0, 0), Duration: 33 * time.Millisecond}, nil)
	})
	deadline := time.Now().Add(10 * time.Second)
	for fb.got.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the publisher got %d transport-wide CC feedback packets in 10 s; want at least 3", fb.got.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

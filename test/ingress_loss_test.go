package test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/usher-rtc/usher/internal/testutil"
)

// dropOnce is a publisher interceptor that drops the first transmission of every 50th video packet, as a full socket
// buffer on the path would; the publisher's NACK responder still has it.
type dropOnce struct {
	interceptor.NoOp
	mu      sync.Mutex
	seen    map[uint16]bool
	dropped int
	from    time.Time
}

func (d *dropOnce) NewInterceptor(string) (interceptor.Interceptor, error) { return d, nil }

func (d *dropOnce) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if info.MimeType != webrtc.MimeTypeVP8 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		d.mu.Lock()
		drop := time.Now().After(d.from) && h.SequenceNumber%50 == 0 && !d.seen[h.SequenceNumber]
		d.seen[h.SequenceNumber] = true
		if drop {
			d.dropped++
		}
		d.mu.Unlock()
		if drop {
			return len(p), nil
		}
		return w.Write(h, p, a)
	})
}

// Packets a simulcast publisher loses on its way to the server are repaired: the server
// asks for them (NACK) and the retransmissions reach the subscribers. (With RTX
// negotiated, Pion dropped the retransmissions of simulcast layers, so no loss was ever
// repaired.)
func TestLossFromASimulcastPublisherIsRepaired(t *testing.T) {
	srv := testutil.StartServer(t)
	// Drops start once the subscriber reads (below), so every one falls in its window.
	d := &dropOnce{seen: map[uint16]bool{}, from: time.Now().Add(time.Hour)}
	speaker := srv.Join(t, "class", "speaker", testutil.WithSDKOptions(lksdk.WithInterceptors([]interceptor.Factory{d}), lksdk.WithIncludeDefaultInterceptors(true)))
	student := srv.Join(t, "class", "student")
	var tracks []*lksdk.LocalTrack
	for q := range 3 {
		tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			lksdk.WithSimulcast("cam", &livekit.VideoLayer{Quality: livekit.VideoQuality(q), Width: uint32(320 << q), Height: uint32(180 << q)}))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	pub, err := speaker.Room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		for _, tr := range tracks {
			big := make([]byte, 5000) // several packets a frame
			copy(big, vp8Frame(n, n%30 == 0, 0))
			_ = tr.WriteSample(media.Sample{Data: big, Duration: 33 * time.Millisecond}, nil)
		}
	})
	remote := subscribedTrack(t, student, pub.SID())
	d.mu.Lock()
	d.from = time.Now().Add(time.Second) // the subscriber's layer has settled by then
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
	defer cancel()
	var maxSeq uint16
	late, got, gaps := 0, 0, 0
	init := false
	for ctx.Err() == nil {
		_ = remote.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		p, _, err := remote.ReadRTP()
		if err != nil {
			continue
		}
		got++
		if init && int16(p.SequenceNumber-maxSeq) < 0 {
			late++
			continue
		}
		if init && p.SequenceNumber != maxSeq+1 {
			gaps += int(p.SequenceNumber - maxSeq - 1)
		}
		init, maxSeq = true, p.SequenceNumber
	}
	d.mu.Lock()
	dropped := d.dropped
	d.mu.Unlock()
	t.Logf("the publisher dropped %d packets once; the subscriber got %d packets, %d missing at first, %d repaired", dropped, got, gaps, late)
	if dropped == 0 || gaps == 0 {
		t.Fatalf("the test lost nothing (dropped %d, gaps %d): it tests nothing", dropped, gaps)
	}
	if late < gaps-2 {
		t.Fatalf("%d of %d missing packets were repaired", late, gaps)
	}
}

package test

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/usher-rtc/usher/internal/testutil"
)

// A simulcast publisher whose top layer starts before the lowest once crashed the server
// (the RTCP of a layer was read through the first layer's reader, nil until that layer
// arrived). The subscriber gets the track, and the server keeps serving.
func TestSimulcastTopLayerFirst(t *testing.T) {
	srv := testutil.StartServer(t)
	speaker := srv.Join(t, "class", "speaker")
	student := srv.Join(t, "class", "student")
	dims := [][2]uint32{{320, 180}, {640, 360}, {1280, 720}}
	var tracks []*lksdk.LocalTrack
	for q, d := range dims {
		tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			lksdk.WithSimulcast("cam", &livekit.VideoLayer{Quality: livekit.VideoQuality(q), Width: d[0], Height: d[1]}))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	vpub, err := speaker.Room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the top layer for a second, then all of them.
	writeFrames(t, 33*time.Millisecond, func(n uint32) {
		for q, tr := range tracks {
			if n < 30 && q != 2 {
				continue
			}
			_ = tr.WriteSample(media.Sample{Data: vp8Frame(n, n%10 == 0, byte(q)), Duration: 33 * time.Millisecond}, nil)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video := make(chan frame, 256)
	go readVP8(ctx, subscribedTrack(t, student, vpub.SID()), video)
	expectFrames(t, "video", video, 40, true)
	if _, err := srv.RoomClient().ListRooms(ctx10(t), &livekit.ListRoomsRequest{}); err != nil {
		t.Fatalf("the server stopped serving: %v", err)
	}
}

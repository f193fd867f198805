package room

import (
	"errors"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
)

// What a track announcement may carry into the TrackInfo others receive is bounded,
// whoever calls AddTrack.
func TestTrackRequestsAreBounded(t *testing.T) {
	layers := func(n int) []*livekit.VideoLayer { return make([]*livekit.VideoLayer, n) }
	ok := &livekit.AddTrackRequest{
		Layers:          []*livekit.VideoLayer{{Rid: "q"}, {Rid: "h"}, {Rid: "f"}},
		SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: "vp9"}, {Codec: "vp8"}},
		AudioFeatures:   []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_STEREO, livekit.AudioTrackFeature_TF_NO_DTX},
	}
	if err := validateTrackRequest(ok); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*livekit.AddTrackRequest{
		"layers":                  {Layers: layers(MaxVideoLayers + 1)},
		"rid":                     {Layers: []*livekit.VideoLayer{{Rid: strings.Repeat("r", MaxRIDLength+1)}}},
		"simulcast_codecs":        {SimulcastCodecs: make([]*livekit.SimulcastCodec, MaxSimulcastCodecs+1)},
		"codec name":              {SimulcastCodecs: []*livekit.SimulcastCodec{{Codec: strings.Repeat("c", MaxCodecNameLength+1)}}},
		"codec layers":            {SimulcastCodecs: []*livekit.SimulcastCodec{{Layers: layers(MaxVideoLayers + 1)}}},
		"audio_features":          {AudioFeatures: make([]livekit.AudioTrackFeature, MaxAudioFeatures+1)},
		"packet_trailer_features": {PacketTrailerFeatures: make([]livekit.PacketTrailerFeature, MaxPacketTrailerFeatures+1)},
	} {
		if err := validateTrackRequest(req); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s over its limit: %v", name, err)
		}
	}
	// The TrackInfo never shares the request's layers, nor relays unknown fields.
	l := &livekit.VideoLayer{Rid: "f"}
	l.ProtoReflect().SetUnknown([]byte{0xfa, 0x0f, 0x01, 0x00})
	c := cloneLayers([]*livekit.VideoLayer{l})
	if c[0] == l || c[0].Rid != "f" || len(c[0].ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("cloneLayers: %v", c)
	}
}

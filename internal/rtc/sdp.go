package rtc

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// OfferedTrack is a media section of a client's offer that sends a track.
type OfferedTrack struct {
	// Mid is the media section's mid.
	Mid string
	// TrackID is the msid track id: the client's track ID (the cid of AddTrackRequest).
	TrackID string
	// StreamID is the msid stream id.
	StreamID string
	// Kind is "audio" or "video".
	Kind string
	// MimeType is the preferred codec, e.g. "audio/opus".
	MimeType string
}

// SendingTracks lists the tracks a client's offer sends: audio and video sections whose
// direction is sendrecv or sendonly and that carry an msid.
func SendingTracks(offer string) ([]OfferedTrack, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	var out []OfferedTrack
	for _, m := range sd.MediaDescriptions {
		kind := m.MediaName.Media
		if (kind != "audio" && kind != "video") || m.MediaName.Port.Value == 0 {
			continue
		}
		sending := true
		var mid, msid string
		rtpmap := map[string]string{}
		for _, a := range m.Attributes {
			switch a.Key {
			case "recvonly", "inactive":
				sending = false
			case "mid":
				mid = a.Value
			case "msid":
				msid = a.Value
			case "ssrc":
				if msid == "" {
					if _, rest, ok := strings.Cut(a.Value, " msid:"); ok {
						msid = rest
					}
				}
			case "rtpmap":
				if pt, enc, ok := strings.Cut(a.Value, " "); ok {
					rtpmap[pt] = strings.SplitN(enc, "/", 2)[0]
				}
			}
		}
		if !sending || msid == "" {
			continue
		}
		stream, track, _ := strings.Cut(strings.TrimSpace(msid), " ")
		if track == "" {
			track = stream
		}
		t := OfferedTrack{Mid: mid, TrackID: track, StreamID: stream, Kind: kind}
		for _, pt := range m.MediaName.Formats {
			if enc, ok := rtpmap[pt]; ok && !isAuxCodec(enc) {
				t.MimeType = kind + "/" + enc
				break
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// isAuxCodec reports codecs that are never a track's media codec.
func isAuxCodec(enc string) bool {
	switch strings.ToLower(enc) {
	case "rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event":
		return true
	}
	return false
}

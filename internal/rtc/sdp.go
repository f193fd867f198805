package rtc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// Bounds of a session description a client sends.
const (
	// MaxSDPSize bounds a session description, in bytes. A browser's offer takes about
	// 1.5 KiB per audio and 4-6 KiB per video section (every codec with its rtx, fmtp and
	// feedback lines, simulcast rids); 512 KiB holds a single peer connection offer that
	// sends 64 video tracks (the most a participant may publish) with room to spare.
	MaxSDPSize = 512 << 10
	// MaxMediaSections bounds the media sections (m= lines) of a session description: a
	// single peer connection carries the participant's own tracks (at most 64) and the
	// receive sections of its subscriptions.
	MaxMediaSections = 256
	// MaxSDPToken bounds a mid, and an msid stream or track id, in bytes. Browsers use
	// small integers for mids and UUIDs (36 bytes) for ids.
	MaxSDPToken = 256
	// maxCodecName bounds an rtpmap encoding name ("opus", "VP8", "H264", …).
	maxCodecName = 32
)

// ErrSDPTooLarge is returned for a session description over one of the bounds above.
var ErrSDPTooLarge = errors.New("session description too large")

// CheckSDPBounds refuses a session description larger than MaxSDPSize or with more
// than MaxMediaSections media sections, without parsing it.
func CheckSDPBounds(desc string) error {
	if len(desc) > MaxSDPSize {
		return fmt.Errorf("%w: it is %d bytes; the limit is %d", ErrSDPTooLarge, len(desc), MaxSDPSize)
	}
	n := strings.Count(desc, "\nm=")
	if strings.HasPrefix(desc, "m=") {
		n++
	}
	if n > MaxMediaSections {
		return fmt.Errorf("%w: it has %d media sections; the limit is %d", ErrSDPTooLarge, n, MaxMediaSections)
	}
	return nil
}

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
// direction is sendrecv or sendonly and that carry an msid. An offer over the bounds
// (CheckSDPBounds), or whose mid or msid ids exceed MaxSDPToken, is refused with
// ErrSDPTooLarge; so every returned field is bounded, and there are at most
// MaxMediaSections tracks.
func SendingTracks(offer string) ([]OfferedTrack, error) {
	if err := CheckSDPBounds(offer); err != nil {
		return nil, err
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if n := len(sd.MediaDescriptions); n > MaxMediaSections {
		return nil, fmt.Errorf("%w: it has %d media sections; the limit is %d", ErrSDPTooLarge, n, MaxMediaSections)
	}
	var out []OfferedTrack
	for i, m := range sd.MediaDescriptions {
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
		for _, f := range []struct{ what, v string }{{"mid", mid}, {"msid stream id", stream}, {"msid track id", track}} {
			if len(f.v) > MaxSDPToken {
				return nil, fmt.Errorf("%w: media section %d: the %s is %d bytes; the limit is %d", ErrSDPTooLarge, i, f.what, len(f.v), MaxSDPToken)
			}
		}
		t := OfferedTrack{Mid: mid, TrackID: track, StreamID: stream, Kind: kind}
		for _, pt := range m.MediaName.Formats {
			if enc, ok := rtpmap[pt]; ok && !isAuxCodec(enc) {
				if len(enc) <= maxCodecName {
					t.MimeType = kind + "/" + enc
				}
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
	case "rtx", "ulpfec", "flexfec-03", "cn", "telephone-event":
		return true
	}
	return false
}

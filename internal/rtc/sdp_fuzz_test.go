package rtc

import (
	"strings"
	"testing"
)

// FuzzSendingTracks: SendingTracks never panics, and what it accepts is bounded: at
// most MaxMediaSections tracks, each field at most MaxSDPToken bytes (a MIME type at
// most kind/codec).
func FuzzSendingTracks(f *testing.F) {
	f.Add(offer)
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:v\r\na=sendonly\r\na=msid:- cam\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n")
	f.Add("v=0\r\nm=audio 9 RTP/AVP 0\r\na=ssrc:1 msid:a b\r\n")
	f.Fuzz(func(t *testing.T, desc string) {
		tracks, err := SendingTracks(desc)
		if err != nil {
			return
		}
		if len(desc) > MaxSDPSize || len(tracks) > MaxMediaSections {
			t.Fatalf("accepted %d bytes with %d tracks", len(desc), len(tracks))
		}
		for _, tr := range tracks {
			if len(tr.Mid) > MaxSDPToken || len(tr.TrackID) > MaxSDPToken || len(tr.StreamID) > MaxSDPToken {
				t.Fatalf("a field over %d bytes: %d %d %d", MaxSDPToken, len(tr.Mid), len(tr.TrackID), len(tr.StreamID))
			}
			if tr.Kind != "audio" && tr.Kind != "video" {
				t.Fatalf("kind %q", tr.Kind)
			}
			if tr.MimeType != "" && (!strings.HasPrefix(tr.MimeType, tr.Kind+"/") || len(tr.MimeType) > len(tr.Kind)+1+maxCodecName) {
				t.Fatalf("MIME type %q", tr.MimeType)
			}
		}
	})
}

package rtc

import (
	"errors"
	"strings"
	"testing"
)

const offer = `v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2 3
m=audio 9 UDP/TLS/RTP/SAVPF 63 111
a=mid:0
a=sendonly
a=msid:stream-a track-mic
a=rtpmap:63 red/48000/2
a=rtpmap:111 opus/48000/2
m=video 9 UDP/TLS/RTP/SAVPF 96 97
a=mid:1
a=sendrecv
a=ssrc:1 msid:stream-v track-cam
a=rtpmap:96 VP8/90000
a=rtpmap:97 rtx/90000
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:2
a=recvonly
a=rtpmap:111 opus/48000/2
m=video 0 UDP/TLS/RTP/SAVPF 96
a=mid:3
a=sendonly
a=msid:s rejected
a=rtpmap:96 VP8/90000
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
a=mid:4
`

func TestSendingTracks(t *testing.T) {
	tracks, err := SendingTracks(offer)
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 {
		t.Fatalf("tracks %+v, want the two sending sections", tracks)
	}
	if tr := tracks[0]; tr.TrackID != "track-mic" || tr.StreamID != "stream-a" || tr.Mid != "0" || tr.Kind != "audio" || tr.MimeType != "audio/red" { // RED first in the offer: the answer chooses it
		t.Errorf("audio %+v", tr)
	}
	if tr := tracks[1]; tr.TrackID != "track-cam" || tr.Mid != "1" || tr.MimeType != "video/VP8" {
		t.Errorf("video %+v", tr)
	}
	if _, err := SendingTracks("not sdp"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestICEUfrag(t *testing.T) {
	if got := iceUfrag("v=0\r\na=ice-ufrag:abc\r\na=ice-pwd:x\r\n"); got != "abc" {
		t.Errorf("iceUfrag = %q", got)
	}
}

func TestSDPBounds(t *testing.T) {
	if err := CheckSDPBounds(offer); err != nil {
		t.Fatal(err)
	}
	big := "v=0\r\n" + strings.Repeat("a=x\r\n", MaxSDPSize/5+1)
	if _, err := SendingTracks(big); !errors.Is(err, ErrSDPTooLarge) || !strings.Contains(err.Error(), "the limit is 524288") {
		t.Errorf("an SDP over the size limit: %v", err)
	}
	many := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=msid:s t\r\n", MaxMediaSections+1)
	if _, err := SendingTracks(many); !errors.Is(err, ErrSDPTooLarge) || !strings.Contains(err.Error(), "257 media sections; the limit is 256") {
		t.Errorf("too many media sections: %v", err)
	}
	long := strings.Replace(offer, "a=msid:stream-a track-mic", "a=msid:stream-a "+strings.Repeat("t", MaxSDPToken+1), 1)
	if _, err := SendingTracks(long); !errors.Is(err, ErrSDPTooLarge) || !strings.Contains(err.Error(), "msid track id is 257 bytes") {
		t.Errorf("an over-long msid: %v", err)
	}
}

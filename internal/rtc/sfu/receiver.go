package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the least time between two keyframe requests to a publisher.
const keyframeInterval = 300 * time.Millisecond

// maxPacketSize bounds one RTP packet read from a publisher.
const maxPacketSize = 1500

// forwardedExtensions are the RTP header extensions a subscriber receives as the
// publisher sent them (mapped to the subscriber's extension IDs). The others describe a
// hop (mid, rid, abs-send-time, transport-wide CC) and are the subscriber transport's own.
var forwardedExtensions = map[string]bool{
	"urn:ietf:params:rtp-hdrext:ssrc-audio-level": true,
	"urn:3gpp:video-orientation":                  true,
	"https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension": true,
	"http://www.webrtc.org/experiments/rtp-hdrext/playout-delay":                              true,
	"http://www.webrtc.org/experiments/rtp-hdrext/color-space":                                true,
}

// Source is where a Receiver reads RTP from: Pion's remote track in production, a
// scripted source in benchmarks.
type Source interface {
	// Read reads one RTP packet into b.
	Read(b []byte) (int, error)
}

// ReceiverParams describe a published RTP stream.
type ReceiverParams struct {
	// TrackID is the track's server-made SID.
	TrackID string
	Kind    webrtc.RTPCodecType
	// Codec is the negotiated codec of the stream.
	Codec webrtc.RTPCodecParameters
	// Extensions are the stream's negotiated header extensions (publisher IDs).
	Extensions []webrtc.RTPHeaderExtensionParameter
	// RequestKeyframe asks the publisher for a keyframe (a PLI); nil when it cannot.
	RequestKeyframe func()
}

// Receiver reads one published RTP stream and forwards each packet to its DownTracks.
type Receiver struct {
	params  ReceiverParams
	family  int
	extURIs [16]string

	mu    sync.Mutex // serialises changes to downs
	downs atomic.Pointer[[]*DownTrack]

	muted atomic.Bool
	// gen changes whenever the stream is interrupted (a mute): down tracks then start
	// a new segment (and, for video, wait for a keyframe).
	gen         atomic.Uint32
	lastRequest atomic.Int64

	packets, bytes atomic.Uint64
	keyframes      atomic.Uint64
	done           chan struct{}
}

// NewReceiver returns a receiver for a stream; Run reads it.
func NewReceiver(p ReceiverParams) *Receiver {
	r := &Receiver{params: p, family: codecFamily(p.Codec.MimeType), done: make(chan struct{})}
	for _, e := range p.Extensions {
		if e.ID > 0 && e.ID < len(r.extURIs) {
			r.extURIs[e.ID] = e.URI
		}
	}
	empty := []*DownTrack{}
	r.downs.Store(&empty)
	return r
}

// TrackID returns the SID of the track the receiver reads.
func (r *Receiver) TrackID() string { return r.params.TrackID }

// Kind returns audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.params.Kind }

// Codec returns the stream's codec.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.params.Codec }

// Done is closed when the stream has ended.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// Run reads the stream until it ends, forwarding every packet. It returns when src
// fails (the publisher's transport closed, or the track was removed).
func (r *Receiver) Run(src Source) {
	defer close(r.done)
	buf := make([]byte, maxPacketSize)
	var pkt rtp.Packet
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		r.forward(buf[:n], &pkt, time.Now().UnixNano())
	}
}

// forward parses one packet and writes it to every down track.
func (r *Receiver) forward(b []byte, pkt *rtp.Packet, now int64) {
	if err := pkt.Unmarshal(b); err != nil {
		return
	}
	r.packets.Add(1)
	r.bytes.Add(uint64(len(b)))
	if r.muted.Load() {
		return
	}
	key := r.params.Kind == webrtc.RTPCodecTypeAudio || isKeyframeStart(r.family, pkt.Payload)
	if key && r.params.Kind == webrtc.RTPCodecTypeVideo {
		r.keyframes.Add(1)
	}
	gen := r.gen.Load()
	for _, d := range *r.downs.Load() {
		d.write(pkt, key, gen, now)
	}
}

// AddDownTrack makes d receive the stream.
func (r *Receiver) AddDownTrack(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.downs.Load()
	next := make([]*DownTrack, 0, len(old)+1)
	for _, o := range old {
		if o != d {
			next = append(next, o)
		}
	}
	next = append(next, d)
	r.downs.Store(&next)
}

// RemoveDownTrack stops d receiving the stream.
func (r *Receiver) RemoveDownTrack(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, o := range old {
		if o != d {
			next = append(next, o)
		}
	}
	r.downs.Store(&next)
}

// DownTracks returns how many subscribers the stream has.
func (r *Receiver) DownTracks() int { return len(*r.downs.Load()) }

// SetMuted stops (true) or resumes (false) forwarding. Resuming asks the publisher for a
// keyframe, since every subscriber must restart from one.
func (r *Receiver) SetMuted(muted bool) {
	if r.muted.Swap(muted) == muted {
		return
	}
	r.gen.Add(1)
	if !muted {
		r.RequestKeyframe()
	}
}

// Muted reports whether forwarding is stopped by a mute.
func (r *Receiver) Muted() bool { return r.muted.Load() }

// RequestKeyframe asks the publisher for a keyframe, at most once per keyframeInterval.
func (r *Receiver) RequestKeyframe() {
	if r.params.Kind != webrtc.RTPCodecTypeVideo || r.params.RequestKeyframe == nil {
		return
	}
	now := time.Now().UnixNano()
	last := r.lastRequest.Load()
	if now-last < int64(keyframeInterval) || !r.lastRequest.CompareAndSwap(last, now) {
		return
	}
	r.params.RequestKeyframe()
}

// Stats are a receiver's counters.
type Stats struct {
	Packets, Bytes, Keyframes uint64
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats {
	return Stats{Packets: r.packets.Load(), Bytes: r.bytes.Load(), Keyframes: r.keyframes.Load()}
}

// extensionURI returns the URI of a publisher extension ID.
func (r *Receiver) extensionURI(id uint8) string {
	if int(id) < len(r.extURIs) {
		return r.extURIs[id]
	}
	return ""
}

// sameCodec reports whether two codec descriptions name the same stream format.
func sameCodec(a webrtc.RTPCodecCapability, b webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) || a.ClockRate != b.ClockRate {
		return false
	}
	if strings.EqualFold(a.MimeType, webrtc.MimeTypeH264) {
		// The profile (not the level) and the packetization mode must match.
		return h264Profile(a.SDPFmtpLine) == h264Profile(b.SDPFmtpLine) &&
			fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode")
	}
	return true
}

// h264Profile returns profile_idc and the constraint flags of an H.264 fmtp line.
func h264Profile(line string) string {
	v := fmtpValue(line, "profile-level-id")
	return v[:min(4, len(v))]
}

// fmtpValue returns the value of key in an fmtp line ("a=1;b=2").
func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return strings.ToLower(v)
		}
	}
	return ""
}

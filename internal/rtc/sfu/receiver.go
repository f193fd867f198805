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

// Header extensions Usher negotiates beyond Pion's named ones.
const (
	// DependencyDescriptorURI describes the layers of an SVC (AV1, VP9) frame.
	DependencyDescriptorURI = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"
	// AbsCaptureTimeURI carries the capture time of a frame at its sender.
	AbsCaptureTimeURI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"
)

// forwardedExtensions are the RTP header extensions a subscriber receives as the
// publisher sent them (mapped to the subscriber's extension IDs). The others describe a
// hop (mid, rid, abs-send-time, transport-wide CC) and are the subscriber transport's own.
var forwardedExtensions = map[string]bool{
	AudioLevelURI:                true,
	"urn:3gpp:video-orientation": true,
	DependencyDescriptorURI:      true,
	AbsCaptureTimeURI:            true,
	"http://www.webrtc.org/experiments/rtp-hdrext/playout-delay": true,
	"http://www.webrtc.org/experiments/rtp-hdrext/color-space":   true,
}

// Source is where a Receiver reads RTP from: Pion's remote track in production, a
// scripted source in benchmarks.
type Source interface {
	// Read reads one RTP packet into b.
	Read(b []byte) (int, error)
}

// MaxLayers is how many simulcast layers a video track may have (rids q, h, f).
const MaxLayers = 3

// layerIdle is how long a layer may stay silent before it counts as gone (a publisher
// stops sending a layer it cannot afford, without ending its stream).
const layerIdle = time.Second

// LayerOfRID returns the layer a simulcast rid names: "q" 0, "h" 1, "f" 2; a stream
// without rid is layer 0.
func LayerOfRID(rid string) int {
	switch rid {
	case "h", "1":
		return 1
	case "f", "2":
		return 2
	}
	return 0
}

// ReceiverParams describe a published track.
type ReceiverParams struct {
	// TrackID names the track (for logs and tests).
	TrackID string
	Kind    webrtc.RTPCodecType
	// Codec is the negotiated codec of the stream.
	Codec webrtc.RTPCodecParameters
	// Extensions are the stream's negotiated header extensions (publisher IDs).
	Extensions []webrtc.RTPHeaderExtensionParameter
}

// senderReport is the time mapping of a publisher's RTCP sender report: the RTP
// timestamp that corresponds to an NTP time of the publisher's clock.
type senderReport struct {
	ntp uint64
	rtp uint32
}

// layer is one simulcast layer of a track (the only one, for audio and plain video).
type layer struct {
	sr              atomic.Pointer[senderReport]
	requestKeyframe func()
	lastRequest     atomic.Int64
	lastPacket      atomic.Int64
	running         atomic.Bool
	packets, bytes  atomic.Uint64
	// seq counts the layer's packets against its sequence numbers (loss).
	seq seqCounter
}

// Receiver reads a published track (one RTP stream per simulcast layer) and forwards
// each packet to its DownTracks, each of which takes one layer.
type Receiver struct {
	params  ReceiverParams
	family  int
	extURIs [16]string
	layers  [MaxLayers]layer

	mu    sync.Mutex // serialises changes to downs and the running count
	downs atomic.Pointer[[]*DownTrack]
	// running counts the layers being read; the receiver is done when it drops to
	// zero after the first.
	running int

	muted atomic.Bool
	// gen changes whenever the stream is interrupted (a mute): down tracks then start
	// a new segment (and, for video, wait for a keyframe).
	gen atomic.Uint32

	keyframes atomic.Uint64
	done      chan struct{}

	// levelID is the audio-level extension's ID (0: not negotiated); level gathers the
	// levels of the current window.
	levelID uint8
	level   levelWindow
	// lossMu serialises TakeLoss.
	lossMu sync.Mutex
	// dem is the dynacast state (demand.go).
	dem demand
}

// NewReceiver returns a receiver for a track; Run reads each of its layers.
func NewReceiver(p ReceiverParams) *Receiver {
	r := &Receiver{params: p, family: codecFamily(p.Codec.MimeType), done: make(chan struct{})}
	for _, e := range p.Extensions {
		if e.ID > 0 && e.ID < len(r.extURIs) {
			r.extURIs[e.ID] = e.URI
			if e.URI == AudioLevelURI && p.Kind == webrtc.RTPCodecTypeAudio {
				r.levelID = uint8(e.ID)
			}
		}
	}
	empty := []*DownTrack{}
	r.downs.Store(&empty)
	return r
}

// TrackID returns the name of the track the receiver reads.
func (r *Receiver) TrackID() string { return r.params.TrackID }

// Kind returns audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.params.Kind }

// Codec returns the stream's codec.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.params.Codec }

// Done is closed when every layer's stream has ended.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// Run reads the stream of layer (0 to MaxLayers-1) until it ends, forwarding every
// packet; requestKeyframe asks the publisher for a keyframe on that layer (a PLI). It
// reports whether this was the last layer running: the track's media has ended.
func (r *Receiver) Run(layerIdx int, src Source, requestKeyframe func()) (last bool) {
	l := &r.layers[min(max(layerIdx, 0), MaxLayers-1)]
	r.mu.Lock()
	l.requestKeyframe = requestKeyframe
	l.running.Store(true)
	r.running++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		l.running.Store(false)
		r.running--
		last = r.running == 0
		r.mu.Unlock()
		if last {
			close(r.done)
		}
	}()
	buf := make([]byte, maxPacketSize)
	var pkt rtp.Packet
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		r.forward(layerIdx, buf[:n], &pkt, time.Now().UnixNano())
	}
}

// forward parses one packet of a layer and writes it to every down track.
func (r *Receiver) forward(layerIdx int, b []byte, pkt *rtp.Packet, now int64) {
	if err := pkt.Unmarshal(b); err != nil {
		return
	}
	l := &r.layers[layerIdx]
	l.seq.observe(pkt.SequenceNumber)
	l.packets.Add(1)
	l.bytes.Add(uint64(len(b)))
	if len(pkt.Payload) > 0 {
		// Padding alone (a browser probing its bandwidth) does not make a layer live:
		// a layer that sends only padding has no picture to switch to.
		l.lastPacket.Store(now)
	}
	if r.muted.Load() {
		return
	}
	if r.params.Kind == webrtc.RTPCodecTypeAudio {
		r.observeLevel(pkt)
	}
	key := r.params.Kind == webrtc.RTPCodecTypeAudio || isKeyframeStart(r.family, pkt.Payload)
	if key && r.params.Kind == webrtc.RTPCodecTypeVideo {
		r.keyframes.Add(1)
	}
	gen := r.gen.Load()
	for _, d := range *r.downs.Load() {
		d.write(r, layerIdx, pkt, key, gen, now)
	}
}

// bestLayer returns the layer a subscriber that wants target gets: target when it is
// sending, else the nearest lower one that is, else the nearest higher one; -1 when
// none is.
func (r *Receiver) bestLayer(target int, now int64) int {
	live := func(i int) bool {
		l := &r.layers[i]
		return l.running.Load() && now-l.lastPacket.Load() < int64(layerIdle)
	}
	for i := target; i >= 0; i-- {
		if live(i) {
			return i
		}
	}
	for i := target + 1; i < MaxLayers; i++ {
		if live(i) {
			return i
		}
	}
	return -1
}

// AddDownTrack makes d receive the stream.
func (r *Receiver) AddDownTrack(d *DownTrack) {
	defer r.updateDemand()
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
	defer r.updateDemand()
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
		for i := range r.layers {
			r.RequestKeyframe(i)
		}
	}
}

// SetSenderReport records a publisher's sender report for a layer: the NTP time of its
// clock that the RTP timestamp rtpTime corresponds to. Subscribers get it translated
// into their own timestamps, so audio and video of one publisher stay in sync.
func (r *Receiver) SetSenderReport(layerIdx int, ntpTime uint64, rtpTime uint32) {
	if layerIdx >= 0 && layerIdx < MaxLayers {
		r.layers[layerIdx].sr.Store(&senderReport{ntp: ntpTime, rtp: rtpTime})
	}
}

// Muted reports whether forwarding is stopped by a mute.
func (r *Receiver) Muted() bool { return r.muted.Load() }

// RequestKeyframe asks the publisher for a keyframe on a layer, at most once per
// keyframeInterval.
func (r *Receiver) RequestKeyframe(layerIdx int) {
	if r.params.Kind != webrtc.RTPCodecTypeVideo || layerIdx < 0 || layerIdx >= MaxLayers {
		return
	}
	l := &r.layers[layerIdx]
	if !l.running.Load() {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastRequest.Load()
	if now-last < int64(keyframeInterval) || !l.lastRequest.CompareAndSwap(last, now) {
		return
	}
	r.mu.Lock()
	f := l.requestKeyframe
	r.mu.Unlock()
	if f != nil {
		f()
	}
}

// Stats are a receiver's counters.
type Stats struct {
	Packets, Bytes, Keyframes uint64
	// Layers has each layer's packet count.
	Layers [MaxLayers]uint64
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats {
	s := Stats{Keyframes: r.keyframes.Load()}
	for i := range r.layers {
		s.Layers[i] = r.layers[i].packets.Load()
		s.Packets += s.Layers[i]
		s.Bytes += r.layers[i].bytes.Load()
	}
	return s
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
		// The profile (not its constraints or level) and the packetization mode must
		// match.
		return h264Profile(a.SDPFmtpLine) == h264Profile(b.SDPFmtpLine) &&
			fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode")
	}
	return true
}

// h264Profile returns profile_idc of an H.264 fmtp line.
func h264Profile(line string) string {
	v := fmtpValue(line, "profile-level-id")
	return v[:min(2, len(v))]
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

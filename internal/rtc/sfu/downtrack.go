package sfu

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ErrNoCodec is returned by Bind when the subscriber's transport negotiated none of
// the codecs the publisher sends.
var ErrNoCodec = errors.New("the subscriber accepts none of the track's codecs")

// DownTrack is one subscriber's copy of a published track: a webrtc.TrackLocal that Pion
// binds to the subscriber's peer connection, fed by the track's Receiver.
type DownTrack struct {
	id, streamID string
	recv         *Receiver
	family       int
	video        bool

	binding atomic.Pointer[binding]
	// unbound is closed when Pion unbinds the track (its sender stopped).
	unbound chan struct{}
	// paused stops forwarding to this subscriber alone (it disabled the track, or it
	// is being unsubscribed).
	paused atomic.Bool
	// target is the simulcast layer the subscriber asked for (track_setting).
	target atomic.Int32

	// mu serialises writes: each simulcast layer is read on its own goroutine.
	mu       sync.Mutex
	m        munger
	gen      uint32
	current  int // the layer being forwarded; -1 until a keyframe starts one
	hdr      rtp.Header
	extSpace [8]rtp.Extension
	switches uint64

	packets, bytes, dropped atomic.Uint64
	fillers                 atomic.Uint64
}

// binding is what Pion negotiated for a down track on one peer connection.
type binding struct {
	ssrc uint32
	pt   uint8
	w    webrtc.TrackLocalWriter
	// The forwarded extensions: publisher ID extIn[i] is sent as extOut[i].
	extIn, extOut [8]uint8
	nExt          int
}

// NewDownTrack returns a down track of recv's stream, with the track id and msid stream
// id the subscriber's SDK expects ("TR_…", and "PA_…|TR_…" naming the publisher).
func NewDownTrack(recv *Receiver, id, streamID string) *DownTrack {
	d := &DownTrack{
		id: id, streamID: streamID, recv: recv,
		family:  recv.family,
		video:   recv.params.Kind == webrtc.RTPCodecTypeVideo,
		current: -1,
		gen:     recv.gen.Load(),
	}
	d.target.Store(MaxLayers - 1)
	d.unbound = make(chan struct{})
	d.m.clockRate = recv.params.Codec.ClockRate
	d.hdr.Extensions = d.extSpace[:0]
	return d
}

// ID implements webrtc.TrackLocal: the track's SID.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.recv.params.Kind }

// Receiver returns the receiver feeding d.
func (d *DownTrack) Receiver() *Receiver { return d.recv }

// Codec returns the codec d sends (the publisher's).
func (d *DownTrack) Codec() webrtc.RTPCodecParameters { return d.recv.params.Codec }

// Bind implements webrtc.TrackLocal: it picks the negotiated codec matching the
// publisher's and maps the header extensions both sides know.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.recv.params.Codec.RTPCodecCapability
	var chosen *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if sameCodec(c.RTPCodecCapability, want) {
			c := c
			chosen = &c
			break
		}
	}
	if chosen == nil {
		// The subscriber cannot decode this track: it stays silent, and the rest of
		// the description (every other track) still applies.
		if cs := ctx.CodecParameters(); len(cs) > 0 {
			return cs[0], nil
		}
		return webrtc.RTPCodecParameters{}, ErrNoCodec
	}
	b := &binding{ssrc: uint32(ctx.SSRC()), pt: uint8(chosen.PayloadType), w: ctx.WriteStream()}
	for _, e := range ctx.HeaderExtensions() {
		if !forwardedExtensions[e.URI] || e.ID <= 0 || e.ID > 14 {
			continue
		}
		for in := uint8(1); in < 15 && b.nExt < len(b.extIn); in++ {
			if d.recv.extensionURI(in) == e.URI {
				b.extIn[b.nExt], b.extOut[b.nExt] = in, uint8(e.ID)
				b.nExt++
			}
		}
	}
	d.binding.Store(b)
	d.recv.RequestKeyframe(d.recv.bestLayer(int(d.target.Load()), time.Now().UnixNano()))
	go d.fillUntilMedia(b, chosen.MimeType)
	return *chosen, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	if d.binding.Swap(nil) != nil {
		close(d.unbound)
	}
	return nil
}

// Filler packets. A client may only learn of a track on its first RTP packet (Pion's
// OnTrack, which the Go SDK waits for), so a track with nothing to forward yet (muted,
// or not flowing) gets a few made-up packets, as LiveKit sends them: padding for video,
// silence for audio, every fillInterval for at most fillFor, until real media flows.
const (
	fillDelay    = 100 * time.Millisecond
	fillInterval = 100 * time.Millisecond
	fillFor      = 5 * time.Second
)

// silence is one 20 ms frame of silence per audio codec.
var silence = map[string][]byte{
	"audio/opus": {0xf8, 0xff, 0xfe},
	"audio/pcmu": bytes.Repeat([]byte{0xff}, 160),
	"audio/pcma": bytes.Repeat([]byte{0xd5}, 160),
}

// fillUntilMedia sends filler packets on binding b until media is forwarded, the track
// is unbound, or fillFor has passed.
func (d *DownTrack) fillUntilMedia(b *binding, mime string) {
	var payload []byte
	var step uint32
	padding := false
	if d.video {
		payload = make([]byte, 32) // all padding: its last byte says so
		payload[len(payload)-1] = byte(len(payload))
		padding = true
	} else {
		payload = silence[strings.ToLower(mime)]
		step = d.m.clockRate / 50
		if payload == nil {
			return
		}
	}
	timer := time.NewTimer(fillDelay)
	defer timer.Stop()
	end := time.Now().Add(fillFor)
	for time.Now().Before(end) {
		select {
		case <-d.unbound:
			return
		case <-timer.C:
		}
		if !d.fill(b, payload, padding, step) {
			return
		}
		timer.Reset(fillInterval)
	}
}

// fill sends one filler packet, unless media has started. It reports whether to go on.
func (d *DownTrack) fill(b *binding, payload []byte, padding bool, step uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.binding.Load() != b || d.packets.Load() > 0 || d.m.inSegment {
		return false
	}
	now := time.Now().UnixNano()
	seq, ts := d.m.filler(uint16(now>>10), uint32(now>>12), step, now)
	// The marker closes each filler on its own, so depacketizers that group packets
	// into frames (Pion's sample builder) never glue a filler to the first real frame.
	h := rtp.Header{Version: 2, Padding: padding, Marker: true, PayloadType: b.pt, SequenceNumber: seq, Timestamp: ts, SSRC: b.ssrc}
	_, _ = b.w.WriteRTP(&h, payload)
	d.fillers.Add(1)
	return true
}

// SetPaused stops (true) or resumes (false) forwarding to this subscriber. A video
// track resumes on a keyframe.
func (d *DownTrack) SetPaused(paused bool) {
	if d.paused.Swap(paused) && !paused {
		d.recv.RequestKeyframe(d.recv.bestLayer(int(d.target.Load()), time.Now().UnixNano()))
	}
}

// SetTargetLayer chooses the simulcast layer the subscriber gets (0 lowest); the switch
// happens on the layer's next keyframe, which is asked for.
func (d *DownTrack) SetTargetLayer(layerIdx int) {
	layerIdx = min(max(layerIdx, 0), MaxLayers-1)
	if d.target.Swap(int32(layerIdx)) != int32(layerIdx) {
		d.recv.RequestKeyframe(d.recv.bestLayer(layerIdx, time.Now().UnixNano()))
	}
}

// RequestKeyframe asks the publisher for a keyframe on the layer the subscriber gets
// (the subscriber lost its picture).
func (d *DownTrack) RequestKeyframe() {
	d.recv.RequestKeyframe(d.recv.bestLayer(int(d.target.Load()), time.Now().UnixNano()))
}

// CurrentLayer returns the layer being forwarded, or -1.
func (d *DownTrack) CurrentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// write forwards one packet of a layer; it runs on that layer's reading goroutine. key
// says whether the packet may start a segment (audio always may; video on a keyframe);
// gen is the receiver's interruption count.
func (d *DownTrack) write(layerIdx int, pkt *rtp.Packet, key bool, gen uint32, now int64) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if gen != d.gen || d.paused.Load() {
		d.gen = gen
		d.m.pause()
		d.current = -1
		if d.paused.Load() {
			return
		}
	}
	want := d.recv.bestLayer(int(d.target.Load()), now)
	if layerIdx != d.current {
		// Another layer: the one to switch to, once it brings a keyframe.
		if layerIdx != want {
			return
		}
		if !key || len(pkt.Payload) == 0 {
			d.recv.RequestKeyframe(want)
			if d.current < 0 {
				d.dropped.Add(1)
			}
			return
		}
		if d.current >= 0 {
			d.switches++
		}
		d.current = layerIdx
		d.m.pause()
	} else if want != d.current && want >= 0 {
		d.recv.RequestKeyframe(want)
	}
	if len(pkt.Payload) == 0 { // padding only (bandwidth probing): not forwarded
		if d.m.inSegment {
			d.m.skip(pkt.SequenceNumber)
		}
		return
	}
	if !d.m.inSegment {
		if !key {
			d.dropped.Add(1)
			d.recv.RequestKeyframe(layerIdx)
			return
		}
		d.m.startSegment(pkt.SequenceNumber, pkt.Timestamp, now)
	}
	seq, ts, ok := d.m.munge(pkt.SequenceNumber, pkt.Timestamp, now)
	if !ok {
		d.dropped.Add(1)
		return
	}
	h := &d.hdr
	h.Version = 2
	h.Padding = false
	h.Marker = pkt.Marker
	h.PayloadType = b.pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = b.ssrc
	h.CSRC = h.CSRC[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	if pkt.Extension {
		for i := 0; i < b.nExt; i++ {
			if v := pkt.GetExtension(b.extIn[i]); len(v) > 0 {
				_ = h.SetExtension(b.extOut[i], v)
			}
		}
	}
	if _, err := b.w.WriteRTP(h, pkt.Payload); err != nil {
		d.dropped.Add(1)
		return
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(len(pkt.Payload)))
}

// DownStats are a down track's counters.
type DownStats struct {
	Packets, Bytes, Dropped uint64
	// Switches counts simulcast layer switches; Fillers the made-up packets sent
	// before media flowed.
	Switches, Fillers uint64
}

// Stats returns the down track's counters.
func (d *DownTrack) Stats() DownStats {
	d.mu.Lock()
	sw := d.switches
	d.mu.Unlock()
	return DownStats{Packets: d.packets.Load(), Bytes: d.bytes.Load(), Dropped: d.dropped.Load(), Switches: sw, Fillers: d.fillers.Load()}
}

// IsVideo reports whether d is a video track.
func (d *DownTrack) IsVideo() bool { return d.video }

var _ webrtc.TrackLocal = (*DownTrack)(nil)

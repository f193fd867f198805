package sfu

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ErrNoCodec is returned by Bind when the subscriber's transport negotiated no codec
// at all for the track.
var ErrNoCodec = errors.New("the subscriber negotiated no codec for the track")

// DownTrackParams describe one subscriber's copy of a track.
type DownTrackParams struct {
	// ID and StreamID are the track id and msid stream id the subscriber's SDK expects
	// ("TR_…", and "PA_…|TR_…" naming the publisher).
	ID, StreamID string
	Kind         webrtc.RTPCodecType
	// Codecs are the codecs the track can be sent in, preferred first: the publisher's
	// primary codec, then its backup codecs (simulcast codecs).
	Codecs []webrtc.RTPCodecParameters
	// Sources are the track's receivers: one per codec the publisher sends so far.
	Sources []*Receiver
	// OnCodecWanted is called, on a goroutine of its own, when the subscriber
	// negotiated a codec the publisher does not send yet.
	OnCodecWanted func(mime string)
}

// DownTrack is one subscriber's copy of a published track: a webrtc.TrackLocal that Pion
// binds to the subscriber's peer connection. Once bound, it takes its packets from the
// receiver of the codec the subscriber negotiated.
type DownTrack struct {
	params DownTrackParams
	video  bool

	// src is the receiver feeding the track, nil until the negotiated codec's arrives.
	src atomic.Pointer[Receiver]
	// attachMu serialises choosing the source (at Bind, and when sources change).
	attachMu sync.Mutex
	sources  []*Receiver
	wanted   string

	binding atomic.Pointer[binding]
	// paused stops forwarding to this subscriber alone (it disabled the track, or it
	// is being unsubscribed).
	paused atomic.Bool
	// target is the simulcast layer the subscriber asked for (track_setting).
	target atomic.Int32
	// ceiling is the highest layer the subscriber's bandwidth allows, and stalled says
	// it allows none (congestion control, alloc.go); both are the server's, apart from
	// what the subscriber asked for.
	ceiling atomic.Int32
	stalled atomic.Bool
	// priority orders the subscriber's video when its bandwidth is short (higher first).
	priority atomic.Int32

	// mu serialises writes: each simulcast layer is read on its own goroutine.
	mu       sync.Mutex
	m        munger
	family   int
	gen      uint32
	current  int // the layer being forwarded; -1 until a keyframe starts one
	hdr      rtp.Header
	extSpace [8]rtp.Extension
	switches uint64

	packets, bytes, dropped atomic.Uint64
	fillers                 atomic.Uint64

	// rx is the subscriber's latest receiver report; srSent the sender reports sent
	// lately (under mu), to measure the round trip from a report's LSR.
	rx     reception
	srSent [4]srRecord
	srNext int
}

// binding is what Pion negotiated for a down track on one peer connection.
type binding struct {
	ssrc  uint32
	pt    uint8
	w     webrtc.TrackLocalWriter
	codec webrtc.RTPCodecCapability
	exts  []webrtc.RTPHeaderExtensionParameter
	// done is closed when Pion unbinds the track.
	done chan struct{}
	// The forwarded extensions of the current source: its extension ID extIn[i] is
	// sent as extOut[i].
	extIn, extOut [8]uint8
	nExt          int
	// unwrapRED sends the primary encoding of the source's RED packets (RFC 2198).
	unwrapRED bool
}

// MimeTypeRED is redundant audio (RFC 2198), which browsers publish Opus in.
const MimeTypeRED = "audio/red"

// redPrimary returns the primary (newest) encoding of a RED payload: after the 4-byte
// headers of the redundant blocks and the 1-byte header of the primary one, past the
// redundant blocks' data. It reports false for a malformed payload.
func redPrimary(p []byte) ([]byte, bool) {
	i, skip := 0, 0
	for {
		if i >= len(p) {
			return nil, false
		}
		if p[i]&0x80 == 0 { // the last header: the primary block's
			i++
			break
		}
		if i+4 > len(p) {
			return nil, false
		}
		skip += int(p[i+2]&0x03)<<8 | int(p[i+3])
		i += 4
	}
	if i+skip > len(p) {
		return nil, false
	}
	return p[i+skip:], true
}

// NewDownTrack returns a subscriber's copy of a track.
func NewDownTrack(p DownTrackParams) *DownTrack {
	d := &DownTrack{params: p, video: p.Kind == webrtc.RTPCodecTypeVideo, current: -1, sources: p.Sources}
	d.target.Store(MaxLayers - 1)
	d.ceiling.Store(MaxLayers - 1)
	d.hdr.Extensions = d.extSpace[:0]
	return d
}

// NewSimpleDownTrack returns a down track of one receiver's stream in its one codec.
func NewSimpleDownTrack(recv *Receiver, id, streamID string) *DownTrack {
	return NewDownTrack(DownTrackParams{
		ID: id, StreamID: streamID, Kind: recv.params.Kind,
		Codecs: []webrtc.RTPCodecParameters{recv.params.Codec}, Sources: []*Receiver{recv},
	})
}

// ID implements webrtc.TrackLocal: the track's SID.
func (d *DownTrack) ID() string { return d.params.ID }

// RID implements webrtc.TrackLocal.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.params.StreamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.params.Kind }

// Receiver returns the receiver feeding d, or nil.
func (d *DownTrack) Receiver() *Receiver { return d.src.Load() }

// Codecs returns the codecs d may be sent in, preferred first.
func (d *DownTrack) Codecs() []webrtc.RTPCodecParameters { return d.params.Codecs }

// Bind implements webrtc.TrackLocal: it picks the first of the track's codecs the
// subscriber negotiated and takes its packets from that codec's receiver (asking the
// publisher for the codec when it does not send it yet).
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	negotiated := ctx.CodecParameters()
	if len(negotiated) == 0 {
		return webrtc.RTPCodecParameters{}, ErrNoCodec
	}
	var chosen *webrtc.RTPCodecParameters
	for _, want := range d.params.Codecs {
		for _, c := range negotiated {
			if sameCodec(c.RTPCodecCapability, want.RTPCodecCapability) {
				c := c
				chosen = &c
				break
			}
		}
		if chosen != nil {
			break
		}
	}
	if chosen == nil {
		// The subscriber can decode none of the track's codecs: it stays silent, and
		// the rest of the description (every other track) still applies.
		return negotiated[0], nil
	}
	b := &binding{
		ssrc: uint32(ctx.SSRC()), pt: uint8(chosen.PayloadType), w: ctx.WriteStream(),
		codec: chosen.RTPCodecCapability, exts: ctx.HeaderExtensions(), done: make(chan struct{}),
	}
	d.binding.Store(b)
	d.attachMatching()
	go d.fillUntilMedia(b.done, chosen.RTPCodecCapability)
	return *chosen, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	if b := d.binding.Swap(nil); b != nil {
		close(b.done)
	}
	if src := d.src.Swap(nil); src != nil {
		src.RemoveDownTrack(d)
	}
	return nil
}

// SetSources replaces the track's receivers (a backup codec started, or ended).
func (d *DownTrack) SetSources(sources []*Receiver) {
	d.attachMu.Lock()
	d.sources = sources
	d.attachMu.Unlock()
	d.attachMatching()
}

// Close stops d receiving media.
func (d *DownTrack) Close() {
	if src := d.src.Swap(nil); src != nil {
		src.RemoveDownTrack(d)
	}
}

// attachMatching feeds d from the source of its negotiated codec, or asks for that
// codec when no source sends it.
func (d *DownTrack) attachMatching() {
	d.attachMu.Lock()
	defer d.attachMu.Unlock()
	b := d.binding.Load()
	if b == nil {
		return
	}
	for _, src := range d.sources {
		if !sameCodec(src.params.Codec.RTPCodecCapability, b.codec) {
			continue
		}
		if d.src.Load() != src || b.unwrapRED {
			d.attach(src, b, false)
		}
		return
	}
	// Opus for a subscriber without RED, from a publisher sending RED: the primary
	// encoding of each RED packet.
	if strings.EqualFold(b.codec.MimeType, webrtc.MimeTypeOpus) {
		for _, src := range d.sources {
			if strings.EqualFold(src.params.Codec.MimeType, MimeTypeRED) {
				if d.src.Load() != src || !b.unwrapRED {
					d.attach(src, b, true)
				}
				return
			}
		}
	}
	if mime := b.codec.MimeType; d.wanted != mime && d.params.OnCodecWanted != nil {
		d.wanted = mime
		go d.params.OnCodecWanted(mime)
	}
}

// attach makes src feed d, whose binding is b: the extension map follows src's IDs, and
// the stream starts a new segment on src's next keyframe.
func (d *DownTrack) attach(src *Receiver, b *binding, unwrapRED bool) {
	nb := *b
	nb.nExt = 0
	nb.unwrapRED = unwrapRED
	for _, e := range b.exts {
		if !forwardedExtensions[e.URI] || e.ID <= 0 || e.ID > 14 {
			continue
		}
		for in := uint8(1); in < 15 && nb.nExt < len(nb.extIn); in++ {
			if src.extensionURI(in) == e.URI {
				nb.extIn[nb.nExt], nb.extOut[nb.nExt] = in, uint8(e.ID)
				nb.nExt++
			}
		}
	}
	d.mu.Lock()
	if !d.binding.CompareAndSwap(b, &nb) {
		d.mu.Unlock()
		return // unbound meanwhile
	}
	d.family = src.family
	d.m.clockRate = src.params.Codec.ClockRate
	d.gen = src.gen.Load()
	d.current = -1
	d.m.pause()
	d.mu.Unlock()
	if old := d.src.Swap(src); old != nil && old != src {
		old.RemoveDownTrack(d)
	}
	src.AddDownTrack(d)
	src.RequestKeyframe(src.bestLayer(int(d.target.Load()), time.Now().UnixNano()))
}

// Filler packets. A client may only learn of a track on its first RTP packet (Pion's
// OnTrack, which the Go SDK waits for), so a track with nothing to forward yet (muted,
// not flowing, or waiting for a backup codec) gets a few made-up packets, as LiveKit
// sends them: padding for video, silence for audio, every fillInterval for at most
// fillFor, until real media flows.
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
	"audio/red":  {111, 0xf8, 0xff, 0xfe}, // the Opus silence as the only (primary) block
}

// fillUntilMedia sends filler packets in codec until media is forwarded, the binding
// ends (done), or fillFor has passed.
func (d *DownTrack) fillUntilMedia(done <-chan struct{}, codec webrtc.RTPCodecCapability) {
	var payload []byte
	var step uint32
	padding := false
	if d.video {
		payload = make([]byte, 32) // all padding: its last byte says so
		payload[len(payload)-1] = byte(len(payload))
		padding = true
	} else {
		payload = silence[strings.ToLower(codec.MimeType)]
		step = codec.ClockRate / 50
		if payload == nil {
			return
		}
	}
	timer := time.NewTimer(fillDelay)
	defer timer.Stop()
	end := time.Now().Add(fillFor)
	for time.Now().Before(end) {
		select {
		case <-done:
			return
		case <-timer.C:
		}
		if !d.fill(payload, padding, step) {
			return
		}
		timer.Reset(fillInterval)
	}
}

// fill sends one filler packet, unless media has started. It reports whether to go on.
func (d *DownTrack) fill(payload []byte, padding bool, step uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.binding.Load()
	if b == nil || d.packets.Load() > 0 || d.m.inSegment {
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

// requestKeyframe asks the current source for a keyframe on the layer the subscriber
// gets.
func (d *DownTrack) requestKeyframe(layerIdx int) {
	if src := d.src.Load(); src != nil {
		if layerIdx < 0 {
			layerIdx = src.bestLayer(int(min(d.target.Load(), d.ceiling.Load())), time.Now().UnixNano())
		}
		src.RequestKeyframe(layerIdx)
	}
}

// SetPaused stops (true) or resumes (false) forwarding to this subscriber. A video
// track resumes on a keyframe.
func (d *DownTrack) SetPaused(paused bool) {
	was := d.paused.Swap(paused)
	if was && !paused {
		d.requestKeyframe(-1)
	}
	if was != paused {
		if src := d.src.Load(); src != nil {
			src.updateDemand()
		}
	}
}

// SetTargetLayer chooses the simulcast layer the subscriber gets (0 lowest); the switch
// happens on the layer's next keyframe, which is asked for.
func (d *DownTrack) SetTargetLayer(layerIdx int) {
	layerIdx = min(max(layerIdx, 0), MaxLayers-1)
	if d.target.Swap(int32(layerIdx)) != int32(layerIdx) {
		if src := d.src.Load(); src != nil {
			src.RequestKeyframe(src.bestLayer(layerIdx, time.Now().UnixNano()))
			src.updateDemand()
		}
	}
}

// RequestKeyframe asks the publisher for a keyframe on the layer the subscriber gets
// (the subscriber lost its picture).
func (d *DownTrack) RequestKeyframe() { d.requestKeyframe(-1) }

// CurrentLayer returns the layer being forwarded, or -1.
func (d *DownTrack) CurrentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// write forwards one packet of a layer; it runs on that layer's reading goroutine. key
// says whether the packet may start a segment (audio always may; video on a keyframe);
// gen is the receiver's interruption count.
func (d *DownTrack) write(r *Receiver, layerIdx int, pkt *rtp.Packet, key bool, gen uint32, now int64) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	off := d.paused.Load() || d.stalled.Load()
	if gen != d.gen || off {
		d.gen = gen
		d.m.pause()
		d.current = -1
		if off {
			return
		}
	}
	if d.src.Load() != r {
		return // a receiver d just left
	}
	want := r.bestLayer(int(min(d.target.Load(), d.ceiling.Load())), now)
	if layerIdx != d.current {
		// Another layer: the one to switch to, once it brings a keyframe.
		if layerIdx != want {
			return
		}
		if !key || len(pkt.Payload) == 0 {
			r.RequestKeyframe(want)
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
		r.RequestKeyframe(want)
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
			r.RequestKeyframe(layerIdx)
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
	payload := pkt.Payload
	if b.unwrapRED {
		var ok bool
		if payload, ok = redPrimary(payload); !ok || len(payload) == 0 {
			d.dropped.Add(1)
			return
		}
	}
	if _, err := b.w.WriteRTP(h, payload); err != nil {
		d.dropped.Add(1)
		return
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(len(payload)))
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

// SenderReport returns the RTCP sender report of d at now, or nil when it has sent
// nothing. It carries the publisher's own time mapping (its NTP clock, translated to
// d's timestamps), so a subscriber syncs a publisher's audio and video as the publisher
// captured them; before the publisher's first report, the mapping of d's newest packet
// to the time it was sent.
func (d *DownTrack) SenderReport(now time.Time) *rtcp.SenderReport {
	b := d.binding.Load()
	src := d.src.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if b == nil || !d.m.started || d.packets.Load() == 0 {
		return nil
	}
	sr := &rtcp.SenderReport{SSRC: b.ssrc, PacketCount: uint32(d.packets.Load()), OctetCount: uint32(d.bytes.Load())}
	defer func() { d.recordSR(sr.NTPTime, now) }()
	if src != nil && d.current >= 0 && d.m.inSegment {
		if p := src.layers[d.current].sr.Load(); p != nil {
			sr.NTPTime, sr.RTPTime = p.ntp, p.rtp+d.m.tsOffset
			return sr
		}
	}
	elapsed := now.UnixNano() - d.m.lastOutAt
	sr.NTPTime = ntpTime(now)
	sr.RTPTime = d.m.lastTSOut + uint32(max(elapsed, 0)*int64(d.m.clockRate)/1e9)
	return sr
}

// ntpTime converts a time to the 64-bit NTP format (seconds since 1900, 32.32 fixed).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// window is the measurement window; packets are counted by their arrival time.
type window struct {
	start, end atomic.Int64 // Unix ns; start is 0 until the window opens
}

func (w *window) open(start time.Time, d time.Duration) {
	w.end.Store(start.Add(d).UnixNano()) // end first: contains reads start first
	w.start.Store(start.UnixNano())
}

func (w *window) contains(t int64) bool {
	s := w.start.Load()
	return s != 0 && t >= s && t < w.end.Load()
}

// publisher sends synthetic media on its tracks until stopped.
type publisher struct {
	room *lksdk.Room
	win  *window
	stop chan struct{}
	wg   sync.WaitGroup

	// Frame ticks written during the window, per track: what each subscriber of the
	// track should receive (a simulcast subscriber gets one layer of each tick).
	audioTicks, videoTicks atomic.Uint64
	writeErrs              atomic.Uint64
}

// publishKind is what a publisher of a load publishes.
type publishKind int

const (
	publishAudioVideo publishKind = iota // an Opus and a plain VP8 track
	publishSimulcast                     // one simulcast VP8 track of three layers
	publishAudio                         // one Opus track
)

// publish publishes the tracks of kind and starts writing to them.
func (p *publisher) publish(kind publishKind, name string) error {
	lp := p.room.LocalParticipant
	if kind != publishSimulcast {
		audio, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
		if err != nil {
			return err
		}
		if _, err := lp.PublishTrack(audio, &lksdk.TrackPublicationOptions{Name: "mic", Source: livekit.TrackSource_MICROPHONE}); err != nil {
			return fmt.Errorf("%s: publishing audio: %w", name, err)
		}
		if kind == publishAudio {
			p.start(func() { p.writeAudio(audio) })
			return nil
		}
		video, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
		if err != nil {
			return err
		}
		if _, err := lp.PublishTrack(video, &lksdk.TrackPublicationOptions{
			Name: "camera", Source: livekit.TrackSource_CAMERA, VideoWidth: int(fanoutVideo.width), VideoHeight: int(fanoutVideo.height),
		}); err != nil {
			return fmt.Errorf("%s: publishing video: %w", name, err)
		}
		p.start(func() { p.writeAudio(audio) })
		p.start(func() { p.writeVideo([]*lksdk.LocalTrack{video}, []layerSpec{fanoutVideo}) })
		return nil
	}
	var tracks []*lksdk.LocalTrack
	for _, l := range simulcastLayers {
		tr, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			lksdk.WithSimulcast(name+"-camera", &livekit.VideoLayer{
				Quality: l.quality, Width: uint32(l.width), Height: uint32(l.height), Bitrate: uint32(l.bitrate), //nolint:gosec // G115: small constants
			}))
		if err != nil {
			return err
		}
		tracks = append(tracks, tr)
	}
	if _, err := lp.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera", Source: livekit.TrackSource_CAMERA}); err != nil {
		return fmt.Errorf("%s: publishing simulcast video: %w", name, err)
	}
	p.start(func() { p.writeVideo(tracks, simulcastLayers) })
	return nil
}

func (p *publisher) start(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// close stops the writers.
func (p *publisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

func (p *publisher) write(tr *lksdk.LocalTrack, data []byte, d time.Duration) {
	if err := tr.WriteSample(media.Sample{Data: data, Duration: d}, nil); err != nil {
		p.writeErrs.Add(1)
	}
}

// writeAudio writes one 20 ms Opus frame per tick.
func (p *publisher) writeAudio(tr *lksdk.LocalTrack) {
	tick := time.NewTicker(opusFrameDuration)
	defer tick.Stop()
	buf := make([]byte, opusFrameBytes)
	for n := uint32(0); ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		f := opusFrame(buf)
		now := time.Now()
		putStamp(f[opusStampAt:], now, n, 0)
		p.write(tr, f, opusFrameDuration)
		if p.win.contains(now.UnixNano()) {
			p.audioTicks.Add(1)
		}
	}
}

// writeVideo writes one frame per layer per tick, a keyframe on every layer every
// keyEvery ticks.
func (p *publisher) writeVideo(tracks []*lksdk.LocalTrack, layers []layerSpec) {
	tick := time.NewTicker(videoFrameDuration)
	defer tick.Stop()
	bufs := make([][]byte, len(layers))
	for i, l := range layers {
		_, key := l.frameSizes()
		bufs[i] = make([]byte, key)
	}
	for n := uint32(0); ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := n%keyEvery == 0
		var first time.Time
		for i, l := range layers {
			delta, keySize := l.frameSizes()
			size := delta
			if key {
				size = keySize
			}
			f := vp8Frame(bufs[i], size, key, l)
			now := time.Now()
			if i == 0 {
				first = now
			}
			putStamp(f[vp8StampAt:], now, n, byte(i)) //nolint:gosec // G115: at most 3 layers
			p.write(tracks[i], f, videoFrameDuration)
		}
		if p.win.contains(first.UnixNano()) {
			p.videoTicks.Add(1)
		}
	}
}

// trackStats is what a subscriber received on one track during the window.
type trackStats struct {
	packets, bytes, padding uint64
	// Packets missing from the sequence (net of late arrivals that filled a gap), and
	// packets that arrived after a later one.
	pktLost, pktLate uint64
	// Frames (by their first packet), frames never seen (gaps in the frame numbers,
	// net of late fills), frames whose first packet came after a later frame's, and
	// video frames whose packets were not all there when the last one came.
	frames, framesLost, framesLate, framesIncomplete uint64
	layerFrames                                      [3]uint64
	// Latency of each frame, send to arrival of the packet that completes it (the
	// marker packet, the frame's packets all there), and to its first packet.
	lat, firstLat []time.Duration
}

// subTrack is one subscription of a subscriber: its reader and what it counted.
type subTrack struct {
	kind  webrtc.RTPCodecType
	media atomic.Bool // a media packet arrived

	mu sync.Mutex
	st trackStats
}

func (s *subTrack) stats() trackStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.lat = append([]time.Duration(nil), s.st.lat...)
	st.firstLat = append([]time.Duration(nil), s.st.firstLat...)
	return st
}

// read reads the track until it ends, counting what arrives inside the window.
func (s *subTrack) read(tr *webrtc.TrackRemote, win *window) {
	buf := make([]byte, 1500)
	c := &rtpCounter{video: s.kind == webrtc.RTPCodecTypeVideo}
	var pkt rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		s.mu.Lock()
		media := c.count(&s.st, &pkt, n, now, win.contains(now))
		s.mu.Unlock()
		if media {
			s.media.Store(true)
		}
	}
}

// rtpCounter follows one received RTP stream: sequence numbers, frames and their
// stamps.
type rtpCounter struct {
	video     bool
	vp8       codecs.VP8Packet
	seqInit   bool
	maxSeq    uint64 // extended sequence number
	frameInit bool
	maxFrame  uint32
	// cur is the frame whose first packet came last, until its last packet comes.
	cur struct {
		ok       bool
		ts       uint32
		sent     int64
		firstSeq uint64
		packets  uint64
	}
}

// count accounts for one packet of size bytes that arrived at now, into st when in is
// set, and reports whether it carried media (not padding).
func (c *rtpCounter) count(st *trackStats, pkt *rtp.Packet, size int, now int64, in bool) bool {
	ext := uint64(1<<16) + uint64(pkt.SequenceNumber)
	if c.seqInit {
		ext = uint64(int64(c.maxSeq) + int64(int16(pkt.SequenceNumber-uint16(c.maxSeq)))) //nolint:gosec // G115: sequence unwrapping
	}
	switch {
	case !c.seqInit || ext > c.maxSeq:
		if c.seqInit && in {
			st.pktLost += ext - c.maxSeq - 1
		}
		c.seqInit, c.maxSeq = true, ext
	case ext < c.maxSeq && in:
		st.pktLate++
		if st.pktLost > 0 {
			st.pktLost--
		}
	}
	if len(pkt.Payload) == 0 { // padding only: a bandwidth probe
		if in {
			st.padding++
		}
		return false
	}
	if in {
		st.packets++
		st.bytes += uint64(size) //nolint:gosec // G115: a packet size
	}

	payload, first, stampAt := pkt.Payload, true, opusStampAt
	if c.video {
		if _, err := c.vp8.Unmarshal(pkt.Payload); err != nil {
			return true
		}
		payload, first, stampAt = c.vp8.Payload, c.vp8.S == 1 && c.vp8.PID == 0, vp8StampAt
	}
	cur := &c.cur
	switch {
	case first && len(payload) >= stampAt+stampLen:
		sent, num, layer := readStamp(payload[stampAt:])
		switch {
		case !c.frameInit || num > c.maxFrame:
			if c.frameInit && in {
				st.framesLost += uint64(num - c.maxFrame - 1)
			}
			if cur.ok && in { // the previous frame's last packet never came
				st.framesIncomplete++
			}
			c.frameInit, c.maxFrame = true, num
			cur.ok, cur.ts, cur.sent, cur.firstSeq, cur.packets = true, pkt.Timestamp, sent, ext, 1
		case num < c.maxFrame:
			// A late frame fills a gap; the frame being received stays the current one.
			if in {
				st.framesLate++
				if st.framesLost > 0 {
					st.framesLost--
				}
			}
		default: // a duplicate of the frame's first packet
			return true
		}
		if in {
			st.frames++
			st.layerFrames[min(int(layer), 2)]++
			st.firstLat = append(st.firstLat, time.Duration(now-sent))
		}
	case cur.ok && pkt.Timestamp == cur.ts:
		cur.packets++
	}
	if (pkt.Marker || !c.video) && cur.ok && pkt.Timestamp == cur.ts {
		if in {
			if cur.packets == ext-cur.firstSeq+1 { // every packet of the frame is there
				st.lat = append(st.lat, time.Duration(now-cur.sent))
			} else {
				st.framesIncomplete++
			}
		}
		cur.ok = false
	}
	return true
}

// subscriber is a participant that auto-subscribes to everything and reads it.
type subscriber struct {
	room *lksdk.Room
	mu   sync.Mutex
	subs []*subTrack
}

func (s *subscriber) tracks() []*subTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*subTrack(nil), s.subs...)
}

// joinMedia joins room as identity: a subscriber (auto-subscribe, a reader per
// subscribed track) or a publisher (auto-subscribe off).
func joinMedia(url, room, identity string, sub *subscriber, win *window) (*lksdk.Room, error) {
	cb := lksdk.NewRoomCallback()
	if sub != nil {
		cb.OnTrackSubscribed = func(tr *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			st := &subTrack{kind: tr.Kind()}
			sub.mu.Lock()
			sub.subs = append(sub.subs, st)
			sub.mu.Unlock()
			go st.read(tr, win)
		}
	}
	r, err := lksdk.ConnectToRoomWithToken(url, token(room, identity), cb, lksdk.WithAutoSubscribe(sub != nil))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", identity, err)
	}
	if sub != nil {
		sub.room = r
	}
	return r, nil
}

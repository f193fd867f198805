package sfu

import (
	"math"
	"sync/atomic"

	"github.com/pion/rtp"
)

// AudioLevelURI is the RTP header extension of the audio level of each packet (RFC
// 6464): its level in -dBov, 0 the loudest and 127 silence.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Speaking thresholds (LiveKit's audio defaults): a packet at or above -35 dBov is
// sound, and a window in which at least 40% of the packets are sound is speech.
const (
	ActiveLevel   = 35
	MinPercentile = 40
)

// levelWindow accumulates the audio levels of one window, on the packet path: two
// counters and a minimum, all atomic.
type levelWindow struct {
	observed, active atomic.Uint32
	// loudest is the lowest -dBov level of a sound packet, plus one (0: none yet).
	loudest atomic.Uint32
}

// observe records one packet's level (its extension's low 7 bits).
func (w *levelWindow) observe(level uint8) {
	w.observed.Add(1)
	if level > ActiveLevel {
		return
	}
	w.active.Add(1)
	v := uint32(level) + 1
	for {
		cur := w.loudest.Load()
		if cur != 0 && cur <= v || w.loudest.CompareAndSwap(cur, v) {
			return
		}
	}
}

// take returns the window's level, linear from 0 (silence) to 1, and starts the next
// window. Speech less than MinPercentile of the window is silence; a window of
// intermittent speech is quieter than its loudest packet by its share of silence.
func (w *levelWindow) take() float64 {
	observed, active, loudest := w.observed.Swap(0), w.active.Swap(0), w.loudest.Swap(0)
	if observed == 0 || active*100 < observed*MinPercentile || loudest == 0 {
		return 0
	}
	dBov := float64(loudest-1) - 20*math.Log10(float64(active)/float64(observed))
	return math.Pow(10, -dBov/20)
}

// TakeAudioLevel returns the track's audio level since the last call, linear from 0
// (silence) to 1: what the active-speaker detection reads once per interval. A track
// without the audio-level extension, or muted, is silent.
func (r *Receiver) TakeAudioLevel() float64 {
	return r.level.take()
}

// observeLevel reads the audio-level extension of an audio packet.
func (r *Receiver) observeLevel(pkt *rtp.Packet) {
	if r.levelID == 0 {
		return
	}
	if ext := pkt.GetExtension(r.levelID); len(ext) > 0 {
		r.level.observe(ext[0] & 0x7f)
	}
}

package signal

import (
	"sort"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// Congestion control per subscriber. Once a second a session estimates what its
// client's downlink carries, from what it sent and what the client reported lost
// (NACKs): heavy loss cuts the estimate, little loss lets it grow (probing upward), as
// the loss-based half of GCC does. It then shares the estimate out: audio first, then
// each video track the best layer that fits (screen shares, then the pinned
// participant's tracks, then the highest requested, first); a video track
// for which not even the lowest layer fits is paused rather than letting every track
// stall, and the client hears of pauses and resumes (stream_state_update). The client's
// own choices (track_setting) are an upper bound the allocation never exceeds.

// AllocInterval is how often the allocation runs.
const AllocInterval = time.Second

// Estimator constants.
const (
	// initialEstimate is the downlink assumed before anything is measured.
	initialEstimate = 3_000_000.0
	// minEstimate is the least estimate (audio must always fit).
	minEstimate = 40_000.0
	// lossHigh and lossLow bound the loss that holds the estimate: above, it drops by
	// half the loss; below, it grows by probeGrowth.
	lossHigh, lossLow = 0.10, 0.02
	probeGrowth       = 1.08
	probeStep         = 50_000.0
	probeSpeedup      = 0.04
	// headroom keeps a layer's measured rate under this share of what is left.
	headroom = 0.9
)

// allocState is a session's congestion-control state; only the housekeeping goroutine
// touches it.
type allocState struct {
	at       time.Time
	estimate float64
	// clean counts the intervals in a row with little loss: probing speeds up with it.
	clean int
	// Counters of each down track and receiver at the last run.
	sent   map[*sfu.DownTrack][2]uint64 // packets, nacked
	bytes  map[*sfu.DownTrack]uint64
	layers map[*sfu.Receiver][sfu.MaxLayers]uint64
}

// allocate runs the estimate and the allocation once per AllocInterval.
func (s *Session) allocate(now time.Time) {
	a := &s.alloc
	if a.sent == nil {
		a.estimate = initialEstimate
		a.sent = map[*sfu.DownTrack][2]uint64{}
		a.bytes = map[*sfu.DownTrack]uint64{}
		a.layers = map[*sfu.Receiver][sfu.MaxLayers]uint64{}
	}
	if a.at.IsZero() {
		a.at = now
		return
	}
	elapsed := now.Sub(a.at).Seconds()
	if elapsed < AllocInterval.Seconds() {
		return
	}
	a.at = now
	t := s.mediaTransport()
	if t == nil {
		return
	}
	downs := t.DownTracks()
	var packets, nacked, bytes uint64
	seen := map[*sfu.DownTrack]bool{}
	for _, d := range downs {
		seen[d] = true
		p, b := d.Sent()
		n := d.Nacked()
		prev := a.sent[d]
		packets += p - prev[0]
		nacked += n - prev[1]
		bytes += b - a.bytes[d]
		a.sent[d], a.bytes[d] = [2]uint64{p, n}, b
	}
	for d := range a.sent {
		if !seen[d] {
			delete(a.sent, d)
			delete(a.bytes, d)
		}
	}
	sentRate := float64(bytes) * 8 / elapsed
	rates := s.layerRates(downs, elapsed)
	loss := 0.0
	if packets > 0 {
		loss = min(float64(nacked)/float64(packets), 1)
	}
	a.update(loss, sentRate, wanted(downs, rates))
	// A client that sends REMB says what its downlink takes: never more than that.
	for _, d := range downs {
		if remb, ok := d.REMB(now.Add(-3 * AllocInterval)); ok && remb > 0 {
			a.estimate = max(min(a.estimate, remb), minEstimate)
		}
	}
	s.share(downs, rates)
}

// update moves the estimate after an interval with loss (0 to 1), sentRate sent, and
// wantedRate what the tracks would take at the layers asked for.
func (a *allocState) update(loss, sentRate, wantedRate float64) {
	switch {
	case loss > lossHigh:
		a.estimate = max(min(a.estimate, sentRate)*(1-loss/2), minEstimate)
		a.clean = 0
	case loss < lossLow:
		// Probe upward, faster the longer the link stays clean, but never far beyond
		// what the tracks would use at the layers the client asked for.
		a.clean++
		growth := probeGrowth + probeSpeedup*float64(min(a.clean, 5))
		ceiling := max(a.estimate, sentRate, 1.5*wantedRate+probeStep)
		a.estimate = min(max(a.estimate*growth, a.estimate+probeStep), ceiling)
	default:
		a.clean = 0
	}
}

// rateOf is the measured bitrate of layer l of d's source (l < 0: all it sends).
func rateOf(rates map[*sfu.Receiver][sfu.MaxLayers]float64, d interface{ Receiver() *sfu.Receiver }, l int) float64 {
	r := rates[d.Receiver()]
	if l >= 0 {
		return r[l]
	}
	total := 0.0
	for _, v := range r {
		total += v
	}
	return total
}

// wanted is the bitrate the down tracks would take at the layers their client asked
// for.
func wanted(downs []*sfu.DownTrack, rates map[*sfu.Receiver][sfu.MaxLayers]float64) float64 {
	total := 0.0
	for _, d := range downs {
		switch {
		case d.Paused():
		case d.IsVideo():
			total += rateOf(rates, d, d.Target())
		default:
			total += rateOf(rates, d, -1)
		}
	}
	return total
}

// share gives each down track what fits in the estimate.
func (s *Session) share(downs []*sfu.DownTrack, rates map[*sfu.Receiver][sfu.MaxLayers]float64) {
	a := &s.alloc
	left := a.estimate
	var video []*sfu.DownTrack
	for _, d := range downs {
		switch {
		case d.Paused():
		case d.IsVideo():
			video = append(video, d)
		default:
			left -= rateOf(rates, d, -1) // audio first
		}
	}
	tracks := make([]videoTrack, len(video))
	for i, d := range video {
		tracks[i] = d
	}
	var changed []*livekit.StreamStateInfo
	for t, layer := range fit(left, tracks, rates) {
		d := t.(*sfu.DownTrack)
		if layer >= 0 {
			if d.SetAllocation(layer, false) {
				changed = append(changed, streamState(d, livekit.StreamState_ACTIVE))
			}
		} else if d.SetAllocation(0, true) {
			changed = append(changed, streamState(d, livekit.StreamState_PAUSED))
		}
	}
	if len(changed) > 0 {
		s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_StreamStateUpdate{
			StreamStateUpdate: &livekit.StreamStateUpdate{StreamStates: changed},
		}})
	}
}

// videoTrack is what the allocation needs of a down track.
type videoTrack interface {
	ID() string
	Priority() int
	Target() int
	Receiver() *sfu.Receiver
}

// fit gives each video track the best layer that fits in left (-1: none does), in
// order of priority, then of the layer asked for.
func fit(left float64, video []videoTrack, rates map[*sfu.Receiver][sfu.MaxLayers]float64) map[videoTrack]int {
	sort.Slice(video, func(i, j int) bool {
		if video[i].Priority() != video[j].Priority() {
			return video[i].Priority() > video[j].Priority()
		}
		if video[i].Target() != video[j].Target() {
			return video[i].Target() > video[j].Target()
		}
		return video[i].ID() < video[j].ID()
	})
	out := make(map[videoTrack]int, len(video))
	for _, d := range video {
		out[d] = -1
		for l := d.Target(); l >= 0; l-- {
			if rate := rateOf(rates, d, l); rate <= left*headroom {
				out[d] = l
				left -= rate
				break
			}
		}
	}
	return out
}

// layerRates measures the bitrate of each layer of the down tracks' sources over the
// last interval.
func (s *Session) layerRates(downs []*sfu.DownTrack, elapsed float64) map[*sfu.Receiver][sfu.MaxLayers]float64 {
	a := &s.alloc
	out := map[*sfu.Receiver][sfu.MaxLayers]float64{}
	for _, d := range downs {
		r := d.Receiver()
		if r == nil {
			continue
		}
		if _, done := out[r]; done {
			continue
		}
		now := r.LayerBytes()
		var rates [sfu.MaxLayers]float64
		if prev, ok := a.layers[r]; ok {
			for i := range now {
				rates[i] = float64(now[i]-prev[i]) * 8 / elapsed
			}
		}
		a.layers[r] = now
		out[r] = rates
	}
	for r := range a.layers {
		if _, ok := out[r]; !ok {
			delete(a.layers, r)
		}
	}
	return out
}

// streamState describes d's state for its client.
func streamState(d *sfu.DownTrack, st livekit.StreamState) *livekit.StreamStateInfo {
	pub, _, _ := strings.Cut(d.StreamID(), "|")
	return &livekit.StreamStateInfo{ParticipantSid: pub, TrackSid: d.ID(), State: st}
}

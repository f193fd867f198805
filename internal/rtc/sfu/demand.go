package sfu

import (
	"sync"
	"time"
)

// Dynacast: a receiver knows which layer each of its subscribers wants (their target,
// unless paused), so it knows the highest layer anyone wants. When that changes it
// tells its handler, which asks the publisher to send only the layers needed: more at
// once, fewer after DemandDownDelay (a subscriber switching or blinking does not make
// the publisher stop and restart a layer).

// DemandDownDelay is how long a drop in demand waits before the publisher hears of it.
const DemandDownDelay = 2 * time.Second

// NoDemand is the demand of a track nobody receives.
const NoDemand = -1

// demand is a receiver's dynacast state.
type demand struct {
	mu      sync.Mutex
	handler func(maxLayer int)
	// sent is the demand the handler last got (unset before the first).
	sent    int
	sentSet bool
	timer   *time.Timer
	delay   time.Duration
}

// SetDemandHandler makes f hear the highest layer any subscriber wants (NoDemand when
// none), now and whenever it changes. f runs one call at a time and must not block.
func (r *Receiver) SetDemandHandler(f func(maxLayer int)) {
	r.dem.mu.Lock()
	r.dem.handler = f
	if r.dem.delay == 0 {
		r.dem.delay = DemandDownDelay
	}
	// A publisher starts by sending every layer: fewer follow after the delay.
	r.dem.sent, r.dem.sentSet = MaxLayers-1, true
	r.dem.mu.Unlock()
	r.updateDemand()
}

// wantedLayer is the highest layer the receiver's subscribers want now.
func (r *Receiver) wantedLayer() int {
	want := NoDemand
	for _, d := range *r.downs.Load() {
		if !d.paused.Load() {
			want = max(want, int(d.target.Load()))
		}
	}
	return want
}

// updateDemand recomputes the demand and tells the handler: at once when it grew,
// after the delay when it shrank (and is still lower then).
func (r *Receiver) updateDemand() {
	r.dem.mu.Lock()
	defer r.dem.mu.Unlock()
	if r.dem.handler == nil {
		return
	}
	want := r.wantedLayer()
	switch {
	case r.dem.sentSet && want == r.dem.sent:
		r.stopDemandTimerLocked()
	case !r.dem.sentSet || want > r.dem.sent:
		r.stopDemandTimerLocked()
		r.dem.sent, r.dem.sentSet = want, true
		r.dem.handler(want)
	case r.dem.timer == nil:
		r.dem.timer = time.AfterFunc(r.dem.delay, r.demandTimerFired)
	}
}

func (r *Receiver) demandTimerFired() {
	r.dem.mu.Lock()
	defer r.dem.mu.Unlock()
	r.dem.timer = nil
	if r.dem.handler == nil {
		return
	}
	if want := r.wantedLayer(); want != r.dem.sent {
		r.dem.sent = want
		r.dem.handler(want)
	}
}

func (r *Receiver) stopDemandTimerLocked() {
	if r.dem.timer != nil {
		r.dem.timer.Stop()
		r.dem.timer = nil
	}
}

// MimeType returns the MIME type of the stream's codec.
func (r *Receiver) MimeType() string { return r.params.Codec.MimeType }

// Target returns the layer the subscriber asked for.
func (d *DownTrack) Target() int { return int(d.target.Load()) }

// Paused reports whether the subscriber paused the track itself.
func (d *DownTrack) Paused() bool { return d.paused.Load() }

// SetAllocation applies what the subscriber's bandwidth allows: at most layer ceiling,
// or nothing (stalled). A change of layer or a resume asks for a keyframe. It reports
// whether the stall changed.
func (d *DownTrack) SetAllocation(ceiling int, stalled bool) bool {
	ceiling = min(max(ceiling, 0), MaxLayers-1)
	layerChanged := d.ceiling.Swap(int32(ceiling)) != int32(ceiling)
	stallChanged := d.stalled.Swap(stalled) != stalled
	if (layerChanged || stallChanged) && !stalled {
		d.requestKeyframe(-1)
	}
	return stallChanged
}

// Stalled reports whether the subscriber's bandwidth allows none of the track.
func (d *DownTrack) Stalled() bool { return d.stalled.Load() }

// Sent returns the packets and bytes d sent.
func (d *DownTrack) Sent() (packets, bytes uint64) { return d.packets.Load(), d.bytes.Load() }

// Nacked returns how many of d's packets the subscriber reported missing.
func (d *DownTrack) Nacked() uint64 { return d.rx.nacked.Load() }

// LayerBytes returns the bytes received so far on each layer.
func (r *Receiver) LayerBytes() [MaxLayers]uint64 {
	var out [MaxLayers]uint64
	for i := range r.layers {
		out[i] = r.layers[i].bytes.Load()
	}
	return out
}

// SetPriority sets the allocation priority of d among its subscriber's video tracks.
func (d *DownTrack) SetPriority(p int) { d.priority.Store(int32(p)) }

// Priority returns the allocation priority of d.
func (d *DownTrack) Priority() int { return int(d.priority.Load()) }

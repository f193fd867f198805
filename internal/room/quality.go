package room

import (
	"github.com/livekit/protocol/livekit"
)

// Connection quality: each participant's session rates its connection (loss, jitter,
// round trip) every few seconds; the room tells the participant itself and everyone
// who sees it when the rating changes, in connection_quality updates as LiveKit sends
// them (the SDKs' ConnectionQualityChanged). A newcomer gets the current ratings.

// SetConnectionQuality records the participant's rating.
func (p *Participant) SetConnectionQuality(q livekit.ConnectionQuality, score float32) {
	r := p.lockRoom()
	defer r.unlock()
	if p.left || !p.activated || p.forwardOf != nil {
		return
	}
	p.score = score
	if p.quality == q && p.qualityKnown {
		return
	}
	p.quality, p.qualityKnown = q, true
	info := &livekit.ConnectionQualityInfo{ParticipantSid: p.sid, Quality: q, Score: score}
	msg := &livekit.SignalResponse{Message: &livekit.SignalResponse_ConnectionQuality{ConnectionQuality: &livekit.ConnectionQualityUpdate{
		Updates: []*livekit.ConnectionQualityInfo{info},
	}}}
	p.sink.Send(msg)
	if p.hidden() {
		return
	}
	for _, o := range r.participants {
		if o != p && o.activated && !o.left && o.forwardOf == nil && seesLocked(o, p) {
			o.sink.Send(msg)
		}
	}
}

// sendQualitiesLocked tells a newcomer the ratings of everyone it sees.
func (r *Room) sendQualitiesLocked(to *Participant) {
	var updates []*livekit.ConnectionQualityInfo
	for _, o := range r.participants {
		if o != to && o.qualityKnown && o.activated && !o.left && !o.hidden() && seesLocked(to, o) {
			updates = append(updates, &livekit.ConnectionQualityInfo{ParticipantSid: o.sid, Quality: o.quality, Score: o.score})
		}
	}
	if len(updates) == 0 {
		return
	}
	to.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_ConnectionQuality{ConnectionQuality: &livekit.ConnectionQualityUpdate{Updates: updates}}})
}

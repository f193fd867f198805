package room

import (
	"math"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Active speakers: every SpeakerInterval each room reads the audio level of each
// published microphone (the audio-level header extension, gathered on the packet path
// by the SFU), smooths it per participant, and tells everyone who started or stopped
// speaking, or whose level moved, in one speakers_changed, as LiveKit does. The SDKs
// turn it into ActiveSpeakersChanged and each participant's isSpeaking and audioLevel.

// SpeakerInterval is how often speakers are updated (LiveKit's audio.update_interval
// is of this order).
const SpeakerInterval = 400 * time.Millisecond

// speakerLevelDelta is the change of a speaker's level that is worth telling clients.
const speakerLevelDelta = 0.05

// speakerSmoothing weighs a new window against the smoothed level (two windows).
const speakerSmoothing = 0.5

// AudioLevelSource is a track's media that measures its audio level (the SFU's
// receiver): the level since the last call, linear from 0 (silence) to 1.
type AudioLevelSource interface {
	TakeAudioLevel() float64
}

// runSpeakers updates every room's speakers until stop is closed.
func (m *Manager) runSpeakers(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		m.mu.RLock()
		rooms := make([]*Room, 0, len(m.rooms))
		for _, r := range m.rooms {
			rooms = append(rooms, r)
		}
		m.mu.RUnlock()
		for _, r := range rooms {
			r.mu.Lock()
			r.updateSpeakersLocked()
			r.unlock()
		}
	}
}

// audioLevelLocked reads p's loudest microphone (or any audio track) level of the
// window.
func (p *Participant) audioLevelLocked() float64 {
	level := 0.0
	for _, t := range p.tracks {
		if t.info.Type != livekit.TrackType_AUDIO || t.source == nil {
			continue
		}
		if src, ok := t.source.(AudioLevelSource); ok {
			l := src.TakeAudioLevel()
			if t.info.Muted {
				l = 0
			}
			level = math.Max(level, l)
		}
	}
	return level
}

// updateSpeakersLocked reads this window's levels and sends what changed.
func (r *Room) updateSpeakersLocked() {
	if r.closed {
		return
	}
	var changed []*livekit.SpeakerInfo
	for _, p := range r.participants {
		if !p.activated || p.left || p.waiting || p.forwardOf != nil {
			continue
		}
		level := p.audioLevelLocked()
		switch {
		case level == 0:
			p.speakLevel = 0 // a silent window ends speech at once
		case p.speakLevel == 0:
			p.speakLevel = level
		default:
			p.speakLevel += (level - p.speakLevel) * speakerSmoothing
		}
		speaking := p.speakLevel > 0
		if speaking == p.speaking && (!speaking || math.Abs(p.speakLevel-float64(p.sentLevel)) < speakerLevelDelta) {
			continue
		}
		p.speaking, p.sentLevel = speaking, float32(p.speakLevel)
		changed = append(changed, &livekit.SpeakerInfo{Sid: p.sid, Level: p.sentLevel, Active: speaking})
	}
	if len(changed) == 0 {
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Level > changed[j].Level })
	msg := &livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{SpeakersChanged: &livekit.SpeakersChanged{Speakers: changed}}}
	for _, o := range r.participants {
		if o.activated && !o.left && !o.waiting && o.forwardOf == nil {
			o.sink.Send(msg)
		}
	}
}

// sendSpeakersLocked tells a newcomer who speaks now, loudest first: later updates
// only say what changed.
func (r *Room) sendSpeakersLocked(to *Participant) {
	var out []*livekit.SpeakerInfo
	for _, p := range r.participants {
		if p.speaking && !p.left && !p.waiting {
			out = append(out, &livekit.SpeakerInfo{Sid: p.sid, Level: p.sentLevel, Active: true})
		}
	}
	if len(out) == 0 {
		return
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Level > out[j].Level })
	to.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{SpeakersChanged: &livekit.SpeakersChanged{Speakers: out}}})
}

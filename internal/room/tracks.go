package room

import (
	"fmt"
	"slices"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"google.golang.org/protobuf/proto"
)

// MaxTracksPerParticipant bounds the tracks one participant may publish or announce.
const MaxTracksPerParticipant = 64

// maxTrackField bounds a track's cid, name and stream.
const maxTrackField = 256

// SendingTrack is a track a publisher's session description sends.
type SendingTrack struct {
	// CID is the client's track ID (msid track id), matching AddTrackRequest.cid.
	CID      string
	Mid      string
	MimeType string
}

// canPublishSourceLocked reports whether p may publish from source.
func (p *Participant) canPublishSourceLocked(source livekit.TrackSource) bool {
	if !p.permission.GetCanPublish() {
		return false
	}
	sources := p.permission.GetCanPublishSources()
	return len(sources) == 0 || slices.Contains(sources, source)
}

// AddTrack handles a participant's announcement of a track it is about to publish and
// returns the track with its server-made SID, for TrackPublishedResponse. The track
// becomes visible to others once the publisher's offer sends it (SyncSending).
func (r *Room) AddTrack(p *Participant, req *livekit.AddTrackRequest) (*livekit.TrackInfo, error) {
	switch {
	case req.Cid == "":
		return nil, fmt.Errorf("%w: add_track has no cid", ErrInvalidArgument)
	case len(req.Cid) > maxTrackField || len(req.Name) > maxTrackField || len(req.Stream) > maxTrackField:
		return nil, fmt.Errorf("%w: add_track cid, name and stream are limited to %d bytes", ErrInvalidArgument, maxTrackField)
	case req.Type != livekit.TrackType_AUDIO && req.Type != livekit.TrackType_VIDEO:
		return nil, fmt.Errorf("%w: add_track type %s is not audio or video", ErrInvalidArgument, req.Type)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return nil, fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	source := req.Source
	if !p.canPublishSourceLocked(source) {
		return nil, fmt.Errorf("%w: %q may not publish %s tracks", ErrPermissionDenied, p.identity, source)
	}
	if ti, ok := p.pending[req.Cid]; ok {
		return ti, nil // the client asked again
	}
	for _, t := range p.tracks {
		if t.cid == req.Cid {
			return t.info, nil
		}
	}
	if len(p.pending)+len(p.tracks) >= MaxTracksPerParticipant {
		return nil, fmt.Errorf("%w: a participant may publish at most %d tracks", ErrInvalidArgument, MaxTracksPerParticipant)
	}
	ti := &livekit.TrackInfo{
		Sid:                   guid.New(guid.TrackPrefix),
		Type:                  req.Type,
		Name:                  req.Name,
		Muted:                 req.Muted,
		Width:                 req.Width,
		Height:                req.Height,
		Simulcast:             len(req.Layers) > 1,
		DisableDtx:            req.DisableDtx,
		Source:                source,
		Layers:                req.Layers,
		Stereo:                req.Stereo,
		DisableRed:            req.DisableRed,
		Encryption:            req.Encryption,
		Stream:                req.Stream,
		AudioFeatures:         req.AudioFeatures,
		BackupCodecPolicy:     req.BackupCodecPolicy,
		PacketTrailerFeatures: req.PacketTrailerFeatures,
	}
	if len(req.SimulcastCodecs) > 0 {
		ti.MimeType = req.SimulcastCodecs[0].Codec
	}
	p.pending[req.Cid] = ti
	return ti, nil
}

// SyncSending reconciles the participant's published tracks with what its latest offer
// sends: announced tracks that are now sent become published; published tracks that
// are no longer sent are unpublished. Everyone who can see the participant is told.
func (r *Room) SyncSending(p *Participant, sending []SendingTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return
	}
	sent := make(map[string]SendingTrack, len(sending))
	for _, s := range sending {
		sent[s.CID] = s
	}
	changed := false
	kept := p.tracks[:0:0]
	for _, t := range p.tracks {
		if _, ok := sent[t.cid]; ok {
			kept = append(kept, t)
			continue
		}
		changed = true
	}
	for _, s := range sending {
		ti, ok := p.pending[s.CID]
		if !ok {
			continue
		}
		delete(p.pending, s.CID)
		ti = proto.Clone(ti).(*livekit.TrackInfo)
		ti.Mid = s.Mid
		if ti.MimeType == "" {
			ti.MimeType = s.MimeType
		}
		kept = append(kept, &track{cid: s.CID, info: ti})
		changed = true
	}
	if !changed {
		return
	}
	p.tracks = kept
	p.bumpLocked()
	r.broadcastLocked(p, p.infoLocked(), true)
	r.roomChangedLocked()
}

// SetTrackMuted applies a publisher's own mute or unmute of one of its tracks.
func (r *Room) SetTrackMuted(p *Participant, trackSID string, muted bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	for _, t := range p.tracks {
		if t.info.Sid != trackSID {
			continue
		}
		if t.info.Muted == muted {
			return nil
		}
		t.info = proto.Clone(t.info).(*livekit.TrackInfo)
		t.info.Muted = muted
		p.bumpLocked()
		r.broadcastLocked(p, p.infoLocked(), true)
		return nil
	}
	for cid, ti := range p.pending {
		if ti.Sid == trackSID {
			ti = proto.Clone(ti).(*livekit.TrackInfo)
			ti.Muted = muted
			p.pending[cid] = ti
			return nil
		}
	}
	return fmt.Errorf("%w: %q has no track %q", ErrTrackNotFound, p.identity, trackSID)
}

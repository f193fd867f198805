package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/usher-rtc/usher/internal/auth"
	"maps"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
)

// Reserved participant attributes: set by the server only (usher.preset also by the
// token). See docs/host-controls.md.
const (
	ReservedAttributePrefix = "usher."
	AttrPreset              = "usher.preset"
	AttrPermissions         = "usher.permissions"
	AttrPinned              = "usher.pinned"
	AttrAudioLocked         = "usher.audio_locked"
	AttrVideoLocked         = "usher.video_locked"
)

// ServerIdentity is the identity host controls are sent to (participant RPC); no
// participant may take it.
const ServerIdentity = "usher"

// Errors of host controls.
var (
	// ErrHostPermission is an action the caller's preset does not allow (RPC 1201).
	ErrHostPermission = errors.New("host permission denied")
	// ErrInvalidTarget is an action that makes no sense on its target (RPC 1204).
	ErrInvalidTarget = errors.New("invalid target")
	// ErrHardMuted is a participant's own unmute while a host keeps it muted.
	ErrHardMuted = errors.New("muted by a host")
)

// IsReservedAttribute reports whether only the server may set attribute k.
func IsReservedAttribute(k string) bool { return strings.HasPrefix(k, ReservedAttributePrefix) }

// presetPermission is the media permission of a preset; the token's recorder and agent
// flags stay the token's.
func presetPermission(pc config.PresetConfig, token *livekit.ParticipantPermission) *livekit.ParticipantPermission {
	perm := &livekit.ParticipantPermission{
		CanPublish:        pc.CanPublish,
		CanSubscribe:      pc.CanSubscribe,
		CanPublishData:    pc.CanPublishData,
		CanUpdateMetadata: pc.CanUpdateMetadata,
		Hidden:            pc.Hidden,
		Recorder:          token.GetRecorder(),
		Agent:             token.GetAgent(), //nolint:staticcheck // only a token makes an agent
	}
	for _, s := range pc.CanPublishSources {
		perm.CanPublishSources = append(perm.CanPublishSources, livekit.TrackSource(livekit.TrackSource_value[strings.ToUpper(s)]))
	}
	return perm
}

// hostControlsText is the usher.permissions attribute of a preset.
func hostControlsText(h config.HostControls) string {
	b, _ := json.Marshal(h)
	return string(b)
}

// applyPresetLocked gives p the preset its attributes name (usher.preset), if any:
// the preset's media permissions replace the current ones, and the reserved
// attributes say which preset and which host controls p has.
func (r *Room) applyPresetLocked(p *Participant) error {
	for k := range p.attributes {
		switch k {
		case AttrPreset:
		case AttrPermissions, AttrPinned, AttrAudioLocked, AttrVideoLocked:
			delete(p.attributes, k) // the server's to set
		default:
			if IsReservedAttribute(k) {
				return fmt.Errorf("%w: attribute %q is reserved for the server", ErrPermissionDenied, k)
			}
		}
	}
	if l, ok := r.locks[p.identity]; ok {
		// Hard-muted before: a new connection does not lift it.
		p.audioLocked, p.videoLocked = l.audio, l.video
		if p.attributes == nil {
			p.attributes = map[string]string{}
		}
		if l.audio {
			p.attributes[AttrAudioLocked] = "true"
		}
		if l.video {
			p.attributes[AttrVideoLocked] = "true"
		}
	}
	name := p.attributes[AttrPreset]
	if name == "" {
		p.preset, p.host = "", config.HostControls{}
		delete(p.attributes, AttrPermissions)
		return nil
	}
	pc, ok := r.mgr.presets.Get(name)
	if !ok {
		return fmt.Errorf("%w: preset %q is not defined on this server", ErrPermissionDenied, name)
	}
	if p.attributes == nil {
		p.attributes = map[string]string{}
	}
	p.preset, p.host = name, pc.Host
	p.permission = presetPermission(pc, p.permission)
	p.attributes[AttrPermissions] = hostControlsText(pc.Host)
	return nil
}

// lockState is a hard mute of one identity in a room.
type lockState struct{ audio, video bool }

// hostActor is p acting as a host.
func (p *Participant) hostActor(r *Room) events.Actor { return p.selfActor(r) }

// requireHost checks that p's preset allows a host control.
func (p *Participant) requireHost(allowed bool, control string) error {
	if p.waiting {
		return fmt.Errorf("%w: %q is in the waiting room", ErrHostPermission, p.identity)
	}
	if !allowed {
		if p.preset == "" {
			return fmt.Errorf("%w: %q has no preset, so no host controls (%s)", ErrHostPermission, p.identity, control)
		}
		return fmt.Errorf("%w: preset %q does not allow %s", ErrHostPermission, p.preset, control)
	}
	return nil
}

// targetLocked finds the participant a host acts on, in the host's room.
func (r *Room) targetLocked(identity string) (*Participant, error) {
	t := r.participants[identity]
	if identity == "" || t == nil || !t.activated || t.left || t.waiting {
		// A waiting participant is not in the session: admit or deny it.
		return nil, fmt.Errorf("%w: no participant %q in room %q", ErrParticipantNotFound, identity, r.name)
	}
	if t.forwardOf != nil {
		return nil, fmt.Errorf("%w: %q is a forwarded participant; act on it in its own room", ErrInvalidTarget, identity)
	}
	return t, nil
}

// setServerAttrLocked sets (value "": removes) a reserved attribute of t and tells
// everyone who sees t, as a participant_updated by actor.
func (r *Room) setServerAttrLocked(t *Participant, key, value string, actor events.Actor) {
	if t.attributes[key] == value {
		return
	}
	before := t.infoLocked()
	t.attributes = maps.Clone(t.attributes)
	if t.attributes == nil {
		t.attributes = map[string]string{}
	}
	if value == "" {
		delete(t.attributes, key)
	} else {
		t.attributes[key] = value
	}
	r.participantChangedLocked(t)
	after := t.infoLocked()
	r.emitLocked(&events.Event{Kind: events.ParticipantUpdated, Participant: after, Actor: actor, Changes: participantChanges(before, after)})
}

// mutedKind says whether a track is what disableAudio (video false) or disableVideo
// (video true) mutes: audio but screen-share audio, or video but screen share.
func mutedKind(ti *livekit.TrackInfo, video bool) bool {
	if video {
		return ti.Type == livekit.TrackType_VIDEO && ti.Source != livekit.TrackSource_SCREEN_SHARE
	}
	return ti.Type == livekit.TrackType_AUDIO && ti.Source != livekit.TrackSource_SCREEN_SHARE_AUDIO
}

// disableLocked mutes t's audio (or video) tracks, published and announced, telling
// its client to mute them; with lock set, t may not unmute them until a host allows
// it. It returns the SIDs of the tracks muted.
func (r *Room) disableLocked(t *Participant, video, lock bool, actor events.Actor) []string {
	var sids []string
	for _, tr := range t.tracks {
		if mutedKind(tr.info, video) {
			sids = append(sids, tr.info.Sid)
		}
	}
	for _, ti := range t.pending {
		if mutedKind(ti, video) {
			sids = append(sids, ti.Sid)
		}
	}
	for _, sid := range sids {
		t.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: sid, Muted: true}}})
		_, _ = r.setTrackMutedLocked(t, sid, true, actor)
	}
	if lock {
		r.setLockLocked(t, video, true, actor)
	}
	return sids
}

// setLockLocked sets or lifts the hard mute of t's audio (or video).
func (r *Room) setLockLocked(t *Participant, video, locked bool, actor events.Actor) {
	key := AttrAudioLocked
	if video {
		key = AttrVideoLocked
	}
	v := ""
	if locked {
		v = "true"
	}
	if video {
		t.videoLocked = locked
	} else {
		t.audioLocked = locked
	}
	if r.locks == nil {
		r.locks = map[string]lockState{}
	}
	if t.audioLocked || t.videoLocked {
		r.locks[t.identity] = lockState{audio: t.audioLocked, video: t.videoLocked}
	} else {
		delete(r.locks, t.identity)
	}
	r.setServerAttrLocked(t, key, v, actor)
}

// lockedKind reports whether a host keeps this kind of t's tracks muted.
func (t *Participant) lockedKind(ti *livekit.TrackInfo) bool {
	return t.audioLocked && mutedKind(ti, false) || t.videoLocked && mutedKind(ti, true)
}

// HostDisable mutes the audio (video) of the participant with identity in p's room,
// for good when allowUnmute is false. It returns the tracks muted.
func (p *Participant) HostDisable(identity string, video, allowUnmute bool) ([]string, error) {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireHostFor(video); err != nil {
		return nil, err
	}
	t, err := r.targetLocked(identity)
	if err != nil {
		return nil, err
	}
	return r.disableLocked(t, video, !allowUnmute, p.hostActor(r)), nil
}

// HostDisableAll mutes the audio (video) of everyone in p's room, p included, and
// returns their identities.
func (p *Participant) HostDisableAll(video, allowUnmute bool) ([]string, error) {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireHostFor(video); err != nil {
		return nil, err
	}
	actor := p.hostActor(r)
	ids := []string{}
	for _, t := range r.participants {
		if !t.activated || t.left || t.forwardOf != nil || t.waiting {
			continue
		}
		r.disableLocked(t, video, !allowUnmute, actor)
		ids = append(ids, t.identity)
	}
	return ids, nil
}

// HostEnable lifts the hard mute of the audio (video) of the participant with
// identity: it may unmute itself again. Nobody is unmuted.
func (p *Participant) HostEnable(identity string, video bool) error {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireHostFor(video); err != nil {
		return err
	}
	t, err := r.targetLocked(identity)
	if err != nil {
		return err
	}
	r.setLockLocked(t, video, false, p.hostActor(r))
	return nil
}

func (p *Participant) requireHostFor(video bool) error {
	if video {
		return p.requireHost(p.host.DisableParticipantVideo, "disable_participant_video")
	}
	return p.requireHost(p.host.DisableParticipantAudio, "disable_participant_audio")
}

// HostPin pins the participant with identity for the whole session, unpinning the
// one pinned before (whose identity it returns).
func (p *Participant) HostPin(identity string) (string, error) {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireHost(p.host.PinParticipant, "pin_participant"); err != nil {
		return "", err
	}
	t, err := r.targetLocked(identity)
	if err != nil {
		return "", err
	}
	return r.pinLocked(t, p.hostActor(r))
}

// HostUnpin unpins the participant with identity.
func (p *Participant) HostUnpin(identity string) error {
	r := p.lockRoom()
	defer r.unlock()
	if err := p.requireHost(p.host.PinParticipant, "pin_participant"); err != nil {
		return err
	}
	t, err := r.targetLocked(identity)
	if err != nil {
		return err
	}
	r.unpinLocked(t, p.hostActor(r))
	return nil
}

// HostKick removes the participant with identity from p's room for good, as
// RemoveParticipant does.
func (p *Participant) HostKick(identity string) error {
	r := p.lockRoom()
	if err := p.requireHost(p.host.KickParticipant, "kick_participant"); err != nil {
		r.unlock()
		return err
	}
	t, err := r.targetLocked(identity)
	if err == nil && t == p {
		err = fmt.Errorf("%w: a host does not kick itself (leave, or end the session with kickAll)", ErrInvalidTarget)
	}
	if err != nil {
		r.unlock()
		return err
	}
	_, err = r.mgr.expelLocked(r, t, "kicked by "+p.identity, p.hostActor(r))
	return err
}

// HostBan bans the participant with identity from p's room (for duration, or until
// lifted when it is 0) and removes it, as usher.Moderation's BanParticipant does: the
// ban covers this room while it belongs to its tenant.
func (p *Participant) HostBan(identity, reason string, duration time.Duration) error {
	r := p.lockRoom()
	if err := p.requireHost(p.host.BanParticipant, "ban_participant"); err != nil {
		r.unlock()
		return err
	}
	t, err := r.targetLocked(identity)
	if err == nil && t == p {
		err = fmt.Errorf("%w: a host does not ban itself", ErrInvalidTarget)
	}
	actor := p.hostActor(r)
	roomName, tenant := r.name, r.tenant
	r.unlock()
	if err != nil {
		return err
	}
	now := time.Now()
	ban := auth.Ban{Room: roomName, Tenant: tenant, Identity: identity, Reason: reason,
		CreatedBy: fmt.Sprintf("participant %s in %s", p.identity, roomName), Created: now}
	if duration > 0 {
		ban.Expires = now.Add(duration)
	}
	_, err = r.mgr.Ban(events.NewContext(context.Background(), actor), ban)
	return err
}

// HostKickAll ends the session: everyone, p included, leaves with ROOM_DELETED and
// the room closes.
func (p *Participant) HostKickAll() error {
	r := p.lockRoom()
	allowed := p.host.KickParticipant || p.host.EndSession
	err := p.requireHost(allowed, "kick_participant or end_session")
	actor := p.hostActor(r)
	r.unlock()
	if err != nil {
		return err
	}
	return r.mgr.endRoom(r, actor)
}

// CanEndSession reports whether p's preset allows ending the session (kickAll).
func (p *Participant) CanEndSession() error {
	r := p.lockRoom()
	defer r.unlock()
	return p.requireHost(p.host.KickParticipant || p.host.EndSession, "kick_participant or end_session")
}

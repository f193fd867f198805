package room

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
)

// Revoker stores token revocations durably and checks them.
type Revoker interface {
	// RevokeTokens revokes refs, and with identity set every token of identity in
	// room issued before now; it returns once that is durable and in force.
	RevokeTokens(refs []auth.TokenRef, room, identity, reason string) error
	// CheckParticipant returns an error wrapping auth.ErrTokenRevoked when the token c
	// (nil when unknown) of identity in room has been revoked.
	CheckParticipant(room, identity string, c *auth.Claims) error
}

// lockedParticipant finds a participant by room and identity and returns it with its
// room locked; the caller unlocks with Room.unlock.
func (m *Manager) lockedParticipant(roomName, identity string) (*Room, *Participant, error) {
	if err := ValidateIdentity(m.opts.Limits, identity); err != nil {
		return nil, nil, err
	}
	r, err := m.Room(roomName)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.unlock()
		return nil, nil, fmt.Errorf("%w: %q", ErrRoomNotFound, roomName)
	}
	p := r.participants[identity]
	if p == nil || !p.activated {
		r.unlock()
		return nil, nil, fmt.Errorf("%w: %q is not in room %q", ErrParticipantNotFound, identity, roomName)
	}
	return r, p, nil
}

// ListParticipants lists everyone in a room, hidden participants included.
func (m *Manager) ListParticipants(roomName string) ([]*livekit.ParticipantInfo, error) {
	r, err := m.Room(roomName)
	if err != nil {
		return nil, err
	}
	return r.Participants(), nil
}

// GetParticipant returns one participant.
func (m *Manager) GetParticipant(roomName, identity string) (*livekit.ParticipantInfo, error) {
	r, p, err := m.lockedParticipant(roomName, identity)
	if err != nil {
		return nil, err
	}
	defer r.unlock()
	return p.infoLocked(), nil
}

// Update is a change to a participant's own fields: what UpdateParticipant carries,
// and what a client may change about itself with update_metadata.
type Update struct {
	// Name and Metadata replace the current values when not empty.
	Name, Metadata string
	// Attributes merge into the current ones; an empty value deletes the key.
	Attributes map[string]string
	// Permission, when set, replaces the whole permission.
	Permission *livekit.ParticipantPermission
	// refresh re-applies the participant's preset as the registry now defines it (or,
	// when it is gone, takes it away, leaving the media permissions as they are).
	refresh bool
}

func (u Update) empty() bool {
	return u.Name == "" && u.Metadata == "" && len(u.Attributes) == 0 && u.Permission == nil && !u.refresh
}

// validate checks u against the limits and returns the merged attributes.
func (m *Manager) validateUpdate(u Update, current map[string]string) (map[string]string, error) {
	l := m.opts.Limits
	if err := ValidateParticipantName(l, u.Name); err != nil {
		return nil, err
	}
	if err := m.validateMetadata("participant metadata", u.Metadata); err != nil {
		return nil, err
	}
	if err := ValidatePermission(u.Permission); err != nil {
		return nil, err
	}
	if len(u.Attributes) == 0 {
		return current, nil
	}
	merged := maps.Clone(current)
	if merged == nil {
		merged = make(map[string]string, len(u.Attributes))
	}
	for k, v := range u.Attributes {
		if k == "" {
			return nil, fmt.Errorf("%w: an attribute key is empty", ErrInvalidArgument)
		}
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	if err := ValidateAttributes(l, merged); err != nil {
		return nil, err
	}
	return merged, nil
}

// UpdateParticipant changes a participant's name, metadata, attributes or permission.
// The participant and everyone who can see them hear of it at once. A permission
// change takes effect immediately (tracks no longer allowed are unpublished; hiding or
// showing the participant makes them leave or join for others), and every token the
// participant's connection holds is revoked while a fresh one with the new grants is
// pushed to it, so a reconnect never restores the old permission.
func (m *Manager) UpdateParticipant(ctx context.Context, roomName, identity string, u Update) (*livekit.ParticipantInfo, error) {
	if u.empty() {
		return nil, fmt.Errorf("%w: set at least one of metadata, name, attributes or permission", ErrInvalidArgument)
	}
	r, p, err := m.lockedParticipant(roomName, identity)
	if err != nil {
		return nil, err
	}
	info, refs, err := r.applyUpdateLocked(p, u, actorOf(ctx))
	r.unlock()
	if err != nil {
		return nil, err
	}
	if refs != nil {
		if err := m.revoke(refs, "", "", "permission changed"); err != nil {
			return nil, err
		}
		p.sink.PushToken()
	}
	return info, nil
}

// UpdateSelf applies a client's update_metadata request: name, metadata and
// attributes, when its permission has can_update_metadata.
func (p *Participant) UpdateSelf(u Update) error {
	u.Permission = nil
	if u.empty() {
		return fmt.Errorf("%w: set at least one of metadata, name or attributes", ErrInvalidArgument)
	}
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	if !p.permission.GetCanUpdateMetadata() {
		return fmt.Errorf("%w: %q may not update its own metadata (can_update_metadata)", ErrPermissionDenied, p.identity)
	}
	_, _, err := r.applyUpdateLocked(p, u, p.selfActor(r))
	return err
}

// applyUpdateLocked validates and applies u to p. When the permission changed it
// returns the tokens to revoke (not nil, possibly empty); otherwise nil.
func (r *Room) applyUpdateLocked(p *Participant, u Update, actor events.Actor) (*livekit.ParticipantInfo, []auth.TokenRef, error) {
	var preset *config.PresetConfig
	for k, v := range u.Attributes {
		switch {
		case !IsReservedAttribute(k):
		case actor.Kind == events.ActorParticipant:
			return nil, nil, fmt.Errorf("%w: attribute %q is reserved: a client cannot set it", ErrPermissionDenied, k)
		case k != AttrPreset:
			return nil, nil, fmt.Errorf("%w: attribute %q is set by the server only (an admin may set %s)", ErrInvalidArgument, k, AttrPreset)
		case v != "":
			pc, ok := r.mgr.presets.Get(v)
			if !ok {
				return nil, nil, fmt.Errorf("%w: preset %q is not defined on this server", ErrInvalidArgument, v)
			}
			preset = &pc
		}
	}
	attrs, err := r.mgr.validateUpdate(u, p.attributes)
	if err != nil {
		return nil, nil, err
	}
	// A waiting participant's permission is held until it is admitted: changes apply
	// to the held one.
	live := p.permission
	if p.waiting {
		live = p.held
	}
	couldAdmit := p.canAdmit()
	if name, ok := u.Attributes[AttrPreset]; ok && name != p.preset {
		// An admin gives p another preset (or none): its host controls now, and its
		// media permissions as a permission change.
		p.preset, p.host = name, config.HostControls{}
		delete(attrs, AttrPermissions)
		if preset != nil {
			p.host = preset.Host
			attrs[AttrPermissions] = hostControlsText(preset.Host)
			u.Permission = presetPermission(*preset, live)
		}
	}
	if u.refresh && p.preset != "" {
		attrs = maps.Clone(attrs)
		if attrs == nil {
			attrs = map[string]string{}
		}
		if pc, ok := r.mgr.presets.Get(p.preset); ok {
			p.host = pc.Host
			attrs[AttrPermissions] = hostControlsText(pc.Host)
			u.Permission = presetPermission(pc, live)
		} else {
			p.preset, p.host = "", config.HostControls{}
			delete(attrs, AttrPreset)
			delete(attrs, AttrPermissions)
		}
	}
	before := p.infoLocked()
	changed := false
	if u.Name != "" && u.Name != p.name {
		p.name, changed = u.Name, true
	}
	if u.Metadata != "" && u.Metadata != p.metadata {
		p.metadata, changed = u.Metadata, true
	}
	if (len(u.Attributes) > 0 || u.refresh) && !maps.Equal(attrs, p.attributes) {
		p.attributes, changed = attrs, true
	}
	var refs []auth.TokenRef
	wasHidden := p.hidden()
	if u.Permission != nil {
		perm := proto.Clone(u.Permission).(*livekit.ParticipantPermission)
		perm.Agent = live.GetAgent() //nolint:staticcheck // only a token makes an agent
		switch {
		case proto.Equal(perm, live):
		case p.waiting:
			p.held = perm
			changed = true
			refs = append([]auth.TokenRef{}, p.sink.IssuedTokens()...)
		default:
			p.permission = perm
			changed = true
			if !perm.CanSubscribe {
				clear(p.subscriptions)
			}
			r.unpublishDisallowedLocked(p, actor)
			refs = append([]auth.TokenRef{}, p.sink.IssuedTokens()...)
		}
	}
	if !changed {
		return p.infoLocked(), refs, nil
	}
	p.bumpLocked()
	info := p.infoLocked()
	p.sink.SendUpdate([]*livekit.ParticipantInfo{info})
	switch hidden := p.hidden(); {
	case hidden && !wasHidden:
		r.sendOthersLocked(p, []*livekit.ParticipantInfo{goneInfo(info, livekit.DisconnectReason_UNKNOWN_REASON)})
	case !hidden:
		r.sendOthersLocked(p, []*livekit.ParticipantInfo{info})
	}
	r.roomChangedLocked()
	r.syncForwardsLocked(p)
	r.reconcileLocked()
	r.emitLocked(&events.Event{Kind: events.ParticipantUpdated, Participant: info, Actor: actor, Changes: participantChanges(before, info)})
	if can := p.canAdmit(); can != couldAdmit {
		r.showWaitingLocked(p, can)
		r.hostsChangedLocked(actor)
	}
	if p.waiting && p.host.AcceptWaitingRequests {
		// Given a host preset: a host is never held at the door.
		if err := r.letInLocked(p, actor); err == nil {
			info = p.infoLocked()
		}
	}
	return info, refs, nil
}

// revoke stores revocations through the configured Revoker.
func (m *Manager) revoke(refs []auth.TokenRef, room, identity, reason string) error {
	if m.opts.Revoker == nil || (len(refs) == 0 && identity == "") {
		return nil
	}
	if err := m.opts.Revoker.RevokeTokens(refs, room, identity, reason); err != nil {
		m.log.Error("storing a token revocation failed", "error", err)
		return fmt.Errorf("%w: %w", ErrRevocation, err)
	}
	return nil
}

// RemoveParticipant disconnects a participant with PARTICIPANT_REMOVED. Unlike
// self-hosted LiveKit, the removal sticks: every token of the participant's session
// (the join token and each refreshed one) is revoked, and so is every token of that
// identity for this room issued before the removal, for as long as such a token can
// live (auth.max_token_lifetime). The revocation is durable and in force before the
// participant is seen to leave. Removing a forwarded stand-in ends that forward.
func (m *Manager) RemoveParticipant(ctx context.Context, roomName, identity string) error {
	r, p, err := m.lockedParticipant(roomName, identity)
	if err != nil {
		return err
	}
	_, err = m.expelLocked(r, p, "removed from the room", actorOf(ctx))
	return err
}

// expelLocked removes p from r, which the caller has locked (and which expelLocked
// unlocks), for good: it revokes p's tokens and every older token of its identity for
// r, durably, and only then takes p out with PARTICIPANT_REMOVED, together with anyone
// of that identity who got in meanwhile with a token now revoked. A forwarded
// stand-in just leaves (its source keeps its tokens). It returns the SID of the
// participant that left, or "" when it was gone already. actor caused it
// (participant_removed, then the departure, are its events).
func (m *Manager) expelLocked(r *Room, p *Participant, reason string, actor events.Actor) (string, error) {
	return m.expelWithLocked(r, p, expulsion{reason: reason, event: events.ParticipantRemoved, leave: livekit.DisconnectReason_PARTICIPANT_REMOVED}, actor)
}

// expulsion is how a participant is put out for good: the reason recorded with the
// revocation and the event, the event, the leave reason its SDK reports, and what to
// do just before it leaves (under the lock).
type expulsion struct {
	reason string
	event  events.Kind
	leave  livekit.DisconnectReason
	before func(p *Participant)
}

// expelWithLocked is expelLocked with the expulsion's event and leave reason.
func (m *Manager) expelWithLocked(r *Room, p *Participant, x expulsion, actor events.Actor) (string, error) {
	reason := x.reason
	if p.forwardOf != nil {
		r.emitParticipantLocked(x.event, p, actor, reason)
		r.removeLocked(p, x.leave, actor)
		r.unlock()
		return p.sid, nil
	}
	// Tokens are minted only under this lock (Participant.WithGrants, a move): from
	// now on none is, so refs holds every token the session was given.
	p.expelling = true
	refs := p.sink.IssuedTokens()
	r.unlock()
	if err := m.revoke(refs, r.name, p.identity, reason); err != nil {
		r.mu.Lock()
		p.expelling = false
		r.unlock()
		return "", err
	}
	r.mu.Lock()
	defer r.unlock()
	cur := r.participants[p.identity]
	if cur == nil || (cur != p && r.admitLocked(cur.identity, cur.token) == nil) {
		// Gone meanwhile, or replaced by someone readmitted with a newer token.
		p.expelling = false
		return "", nil
	}
	if x.before != nil {
		x.before(cur)
	}
	r.emitParticipantLocked(x.event, cur, actor, reason)
	r.removeLocked(cur, x.leave, actor)
	return cur.sid, nil
}

// MutePublishedTrack mutes or unmutes one of a participant's tracks. The publisher's
// client is told first (its SDK mutes the local track), then everyone sees the new
// state. Unmuting needs room.enable_remote_unmute.
func (m *Manager) MutePublishedTrack(ctx context.Context, roomName, identity, trackSID string, muted bool) (*livekit.TrackInfo, error) {
	if trackSID == "" {
		return nil, fmt.Errorf("%w: track_sid is empty", ErrInvalidArgument)
	}
	if !muted && !m.opts.Defaults.EnableRemoteUnmute {
		return nil, fmt.Errorf("%w: set room.enable_remote_unmute to let admins unmute tracks", ErrRemoteUnmuteDisabled)
	}
	r, p, err := m.lockedParticipant(roomName, identity)
	if err != nil {
		return nil, err
	}
	defer r.unlock()
	if p.forwardOf != nil {
		return nil, fmt.Errorf("%w: %q is a forwarded participant; mute the track in its source room", ErrInvalidArgument, identity)
	}
	if !slices.ContainsFunc(p.tracks, func(t *track) bool { return t.info.Sid == trackSID }) &&
		!slices.ContainsFunc(slices.Collect(maps.Values(p.pending)), func(ti *livekit.TrackInfo) bool { return ti.Sid == trackSID }) {
		return nil, fmt.Errorf("%w: %q has no track %q", ErrTrackNotFound, identity, trackSID)
	}
	// The client hears of the mute before the update, so its SDK never reverts it.
	p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: trackSID, Muted: muted}}})
	return r.setTrackMutedLocked(p, trackSID, muted, actorOf(ctx))
}

// UpdateSubscriptions subscribes or unsubscribes a participant to tracks, named by SID
// or per publisher. An admin may do this even without can_subscribe.
func (m *Manager) UpdateSubscriptions(ctx context.Context, roomName, identity string, trackSIDs []string, perParticipant []*livekit.ParticipantTracks, subscribe bool) error {
	if len(trackSIDs) == 0 && len(perParticipant) == 0 {
		return fmt.Errorf("%w: name tracks in track_sids or participant_tracks", ErrInvalidArgument)
	}
	n := len(trackSIDs)
	for _, pt := range perParticipant {
		n += len(pt.GetTrackSids())
	}
	if err := checkList("track_sids and participant_tracks", max(n, len(perParticipant))); err != nil {
		return err
	}
	r, p, err := m.lockedParticipant(roomName, identity)
	if err != nil {
		return err
	}
	defer r.unlock()
	var missing []string
	sids := append([]string(nil), trackSIDs...)
	for _, pt := range perParticipant {
		owner := r.bySID[pt.GetParticipantSid()]
		if owner == nil {
			missing = append(missing, "participant "+pt.GetParticipantSid())
			continue
		}
		for _, sid := range pt.GetTrackSids() {
			if r.trackOwnerLocked(sid) != owner {
				missing = append(missing, sid)
			}
		}
		sids = append(sids, pt.GetTrackSids()...)
	}
	for _, sid := range trackSIDs {
		if r.trackOwnerLocked(sid) == nil {
			missing = append(missing, sid)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: room %q has no track %s", ErrTrackNotFound, roomName, strings.Join(missing, ", "))
	}
	for _, sid := range sids {
		p.subscriptions[sid] = subscribe
	}
	r.reconcileSubLocked(p)
	r.emitLocked(&events.Event{Kind: events.SubscriptionChanged, Participant: p.infoLocked(), Actor: actorOf(ctx),
		Tracks: sids, Changes: []events.Change{{Field: "subscribed", After: fmt.Sprint(subscribe)}}})
	return nil
}

// SendData sends a server-made data packet to chosen participants, or to everyone. A
// request repeated with the same nonce is delivered once.
func (m *Manager) SendData(ctx context.Context, req *livekit.SendDataRequest) error {
	if len(req.Data) == 0 {
		return fmt.Errorf("%w: data is empty", ErrInvalidArgument)
	}
	if n := len(req.Nonce); n != 0 && n != 16 {
		return fmt.Errorf("%w: nonce must be 16 bytes or absent (got %d)", ErrInvalidArgument, n)
	}
	if len(req.GetTopic()) > maxTrackField {
		return fmt.Errorf("%w: topic is longer than %d bytes", ErrInvalidArgument, maxTrackField)
	}
	if req.Kind != livekit.DataPacket_RELIABLE && req.Kind != livekit.DataPacket_LOSSY {
		return fmt.Errorf("%w: kind must be RELIABLE or LOSSY", ErrInvalidArgument)
	}
	if err := checkList("destination_identities", len(req.DestinationIdentities)); err != nil {
		return err
	}
	if err := checkList("destination_sids", len(req.DestinationSids)); err != nil { //nolint:staticcheck // older SDKs still name SIDs
		return err
	}
	r, err := m.Room(req.Room)
	if err != nil {
		return err
	}
	dests := req.DestinationIdentities
	sids := req.DestinationSids //nolint:staticcheck // older SDKs still name SIDs
	r.mu.Lock()
	if len(dests)+len(sids) > 0 && !slices.ContainsFunc(slices.Collect(maps.Values(r.participants)), func(p *Participant) bool {
		return p.activated && (slices.Contains(dests, p.identity) || slices.Contains(sids, p.sid))
	}) {
		r.unlock()
		return fmt.Errorf("%w: none of the destinations %q is in room %q", ErrParticipantNotFound, append(dests, sids...), req.Room)
	}
	if len(req.Nonce) > 0 && !r.nonces.add(req.Nonce) {
		r.unlock()
		return nil // already delivered
	}
	r.emitLocked(&events.Event{Kind: events.DataSent, Actor: actorOf(ctx), Topic: req.GetTopic(),
		Identities: append(append([]string(nil), dests...), sids...)})
	r.unlock()
	pkt := &livekit.DataPacket{
		Kind:                  req.Kind,
		DestinationIdentities: dests,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{
			Payload:               req.Data,
			DestinationIdentities: dests, //nolint:staticcheck // older clients read the deprecated field
			Topic:                 req.Topic,
			Nonce:                 req.Nonce,
		}},
	}
	_, err = r.deliver(nil, req.Kind, pkt, dests, sids)
	return err
}

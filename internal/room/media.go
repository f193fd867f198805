package room

import (
	"fmt"
	"slices"
	"sort"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// MediaSource is a published track's media as the room sees it: opaque (it is the
// SFU's receiver), with the one control the room drives directly.
type MediaSource interface {
	// SetMuted stops (true) or resumes (false) forwarding the track to everyone.
	SetMuted(muted bool)
}

// Subscription is a track a participant's connection is to receive.
type Subscription struct {
	// TrackSID and PublisherSID name the track and its publisher, as the subscriber's
	// SDK matches them ("PA_…|TR_…" in the media stream id).
	TrackSID     string
	PublisherSID string
	// Source is the track's media.
	Source MediaSource
	// Layers are the track's simulcast layers as the publisher announced them.
	Layers []*livekit.VideoLayer
}

// AttachMedia records that the media of the participant's track with client id cid
// has started arriving, and subscribes everyone entitled to it.
func (p *Participant) AttachMedia(cid string, src MediaSource) {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return
	}
	p.media[cid] = src
	for i, t := range p.tracks {
		if t.cid == cid && t.source != src {
			p.tracks[i] = &track{cid: t.cid, info: t.info, source: src}
			r.muteSourceLocked(src, t.info.Muted)
			r.syncForwardsLocked(p)
			r.reconcileLocked()
		}
	}
}

// DetachMedia forgets media that ended (its track was removed from the connection).
func (p *Participant) DetachMedia(src MediaSource) {
	r := p.lockRoom()
	defer r.unlock()
	for cid, s := range p.media {
		if s == src {
			delete(p.media, cid)
		}
	}
	for i, t := range p.tracks {
		if t.source == src {
			p.tracks[i] = &track{cid: t.cid, info: t.info}
			r.syncForwardsLocked(p)
			r.reconcileLocked()
		}
	}
}

// SetSubscriptions records the client's own choice to subscribe to or unsubscribe from
// tracks (a subscription request) and applies it.
func (p *Participant) SetSubscriptions(trackSIDs []string, subscribe bool) error {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	for _, sid := range trackSIDs {
		p.subscriptions[sid] = subscribe
	}
	r.reconcileLocked()
	return nil
}

// muteSourceLocked stops or resumes a track's forwarding once the lock is released
// (resuming asks the publisher for a keyframe: a network write).
func (r *Room) muteSourceLocked(src MediaSource, muted bool) {
	if src != nil {
		r.afterUnlockLocked(func() { src.SetMuted(muted) })
	}
}

// desiresLocked reports whether sub asks for pub's track t (auto-subscribe, or its own
// or an admin's choice) and could receive it, before the publisher's permissions.
func desiresLocked(sub, pub *Participant, t *track) bool {
	if t.source == nil || sub == pub || pub.identity == sub.identity {
		return false
	}
	if !sub.activated || sub.left || sub.forwardOf != nil || !sub.permission.GetCanSubscribe() {
		return false
	}
	if !pub.activated || pub.left || pub.hidden() {
		return false
	}
	if choice, ok := sub.subscriptions[t.info.Sid]; ok {
		return choice
	}
	return sub.autoSubscribe
}

// allowsLocked reports whether pub's subscription permission lets sub receive the track
// with SID trackSID. A stand-in applies its source's permission.
func allowsLocked(pub, sub *Participant, trackSID string) bool {
	perm := pub.allowed
	if pub.forwardOf != nil {
		perm = pub.forwardOf.allowed
	}
	if perm == nil || perm.GetAllParticipants() {
		return true
	}
	for _, tp := range perm.GetTrackPermissions() {
		if tp.GetParticipantSid() != sub.sid && tp.GetParticipantIdentity() != sub.identity {
			continue
		}
		if tp.GetAllTracks() || slices.Contains(tp.GetTrackSids(), trackSID) {
			return true
		}
	}
	return false
}

// SetSubscriptionPermission applies the participant's own choice of who may subscribe
// to its tracks (subscription_permission): subscribers no longer allowed lose the
// tracks at once, and every subscriber whose access changed is told.
func (p *Participant) SetSubscriptionPermission(sp *livekit.SubscriptionPermission) error {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	p.allowed = proto.Clone(sp).(*livekit.SubscriptionPermission)
	r.reconcileLocked()
	return nil
}

// reconcileLocked brings every participant's subscriptions in line with what it may
// and wants to receive: new ones are pushed to its connection, gone ones withdrawn.
// The first subscriber of a track makes its publisher hear track_subscribed.
func (r *Room) reconcileLocked() {
	for _, sub := range r.participants {
		want := make(map[string]Subscription)
		seen := make(map[string]bool)
		for _, pub := range r.participants {
			for _, t := range pub.tracks {
				if !desiresLocked(sub, pub, t) {
					continue
				}
				seen[t.info.Sid] = true
				allowed := allowsLocked(pub, sub, t.info.Sid)
				if allowed == sub.denied[t.info.Sid] {
					// Its access changed since it was last told (or it was never told of a
					// refusal): subscription_permission_update.
					if allowed {
						delete(sub.denied, t.info.Sid)
					} else {
						sub.denied[t.info.Sid] = true
					}
					sub.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SubscriptionPermissionUpdate{
						SubscriptionPermissionUpdate: &livekit.SubscriptionPermissionUpdate{
							ParticipantSid: pub.sid, TrackSid: t.info.Sid, Allowed: allowed,
						},
					}})
				}
				if allowed {
					want[t.info.Sid] = Subscription{TrackSID: t.info.Sid, PublisherSID: pub.sid, Source: t.source, Layers: t.info.GetLayers()}
					if !pub.announced[t.info.Sid] && pub.forwardOf == nil {
						pub.announced[t.info.Sid] = true
						pub.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackSubscribed{
							TrackSubscribed: &livekit.TrackSubscribed{TrackSid: t.info.Sid},
						}})
					}
				}
			}
		}
		for sid := range sub.denied {
			if !seen[sid] {
				delete(sub.denied, sid)
			}
		}
		for sid := range sub.subscribed {
			if _, ok := want[sid]; !ok {
				delete(sub.subscribed, sid)
				sub.sink.Unsubscribe(sid)
			}
		}
		for sid, s := range want {
			if !sub.subscribed[sid] {
				sub.subscribed[sid] = true
				sub.sink.Subscribe(s)
			}
		}
	}
}

// dropSubscriptionsLocked withdraws all of p's subscriptions (it leaves the room).
func (r *Room) dropSubscriptionsLocked(p *Participant) {
	for sid := range p.subscribed {
		delete(p.subscribed, sid)
		p.sink.Unsubscribe(sid)
	}
}

// TrackMedia returns the media of the participant's published track with that SID, or
// nil.
func (p *Participant) TrackMedia(trackSID string) MediaSource {
	r := p.lockRoom()
	defer r.unlock()
	for _, t := range p.tracks {
		if t.info.Sid == trackSID {
			return t.source
		}
	}
	return nil
}

// SubscribedTracks returns the SIDs of the tracks the participant receives, sorted.
func (p *Participant) SubscribedTracks() []string {
	r := p.lockRoom()
	defer r.unlock()
	out := make([]string, 0, len(p.subscribed))
	for sid := range p.subscribed {
		out = append(out, sid)
	}
	sort.Strings(out)
	return out
}

package room

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// MediaSource is a published track's media as the room sees it: opaque (it is the
// SFU's receiver), with the one control the room drives directly.
type MediaSource interface {
	// SetMuted stops (true) or resumes (false) forwarding the track to everyone.
	SetMuted(muted bool)
}

// Subscription is a track a participant's connection is to receive. The room pushes it
// again when the track's media changes (a backup codec starts).
type Subscription struct {
	// TrackSID and PublisherSID name the track and its publisher, as the subscriber's
	// SDK matches them ("PA_…|TR_…" in the media stream id).
	TrackSID     string
	PublisherSID string
	// Video tells a video track from an audio one.
	Video bool
	// Codecs are the MIME types the track may be sent in, preferred first: the
	// publisher's primary codec, then its backup codecs.
	Codecs []string
	// Sources are the track's media, one per codec the publisher sends.
	Sources []MediaSource
	// Layers are the track's simulcast layers as the publisher announced them.
	Layers []*livekit.VideoLayer
	// Priority orders the subscriber's video tracks when its bandwidth is short:
	// PriorityScreenShare, then PriorityPinned, then the rest.
	Priority int
}

// Allocation priorities of a subscription.
const (
	PriorityNormal      = 0
	PriorityPinned      = 1
	PriorityScreenShare = 2
)

// priorityLocked is the allocation priority of pub's track t in r.
func (r *Room) priorityLocked(pub *Participant, t *track) int {
	switch {
	case t.info.Source == livekit.TrackSource_SCREEN_SHARE:
		return PriorityScreenShare
	case r.pinned != "" && r.pinned == pub.identity:
		return PriorityPinned
	}
	return PriorityNormal
}

// subscriptionOf describes pub's track t for a subscriber.
func subscriptionOf(pub *Participant, t *track) Subscription {
	s := Subscription{
		TrackSID: t.info.Sid, PublisherSID: pub.sid, Video: t.info.Type == livekit.TrackType_VIDEO,
		Sources: t.sources(), Layers: t.info.GetLayers(),
	}
	for _, c := range t.info.GetCodecs() {
		if c.GetMimeType() != "" && !slices.Contains(s.Codecs, c.GetMimeType()) {
			s.Codecs = append(s.Codecs, c.GetMimeType())
		}
	}
	if len(s.Codecs) == 0 && t.info.MimeType != "" {
		s.Codecs = []string{t.info.MimeType}
	}
	return s
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
	if sid, ok := p.backupCIDs[cid]; ok {
		// A backup codec of a published track.
		for i, t := range p.tracks {
			if t.info.Sid == sid && !slices.Contains(t.backups, src) {
				c := *t
				c.backups = append(slices.Clone(t.backups), src)
				p.tracks[i] = &c
				r.muteSourceLocked(src, t.info.Muted)
				r.syncForwardsLocked(p)
				r.reconcileTracksLocked(p, []string{sid})
			}
		}
		return
	}
	for i, t := range p.tracks {
		if t.cid == cid && t.source != src {
			c := *t
			c.source = src
			p.tracks[i] = &c
			r.muteSourceLocked(src, t.info.Muted)
			r.syncForwardsLocked(p)
			r.reconcileTracksLocked(p, []string{c.info.Sid})
			if _, ok := p.demand[src]; ok {
				p.sendDemandLocked(&c) // the demand came before the track's publication
			}
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
	p.forgetDemandLocked(src)
	for i, t := range p.tracks {
		switch {
		case t.source == src:
			c := *t
			c.source, c.backups = nil, nil
			p.tracks[i] = &c
		case slices.Contains(t.backups, src):
			c := *t
			c.backups = slices.DeleteFunc(slices.Clone(t.backups), func(m MediaSource) bool { return m == src })
			p.tracks[i] = &c
		default:
			continue
		}
		r.syncForwardsLocked(p)
		r.reconcileTracksLocked(p, []string{t.info.Sid})
	}
}

// AddBackupCodec handles an add_track for an extra codec of a published track (its
// sid is set): the stream with client id cid will carry the track in another codec.
// It returns the track, for TrackPublishedResponse.
func (p *Participant) AddBackupCodec(cid, trackSID string) (*livekit.TrackInfo, error) {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return nil, fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	for _, t := range p.tracks {
		if t.info.Sid != trackSID {
			continue
		}
		if _, ok := p.backupCIDs[cid]; !ok && len(p.backupCIDs) >= MaxTracksPerParticipant*MaxSimulcastCodecs {
			return nil, fmt.Errorf("%w: too many backup codec streams", ErrInvalidArgument)
		}
		p.backupCIDs[cid] = trackSID
		if src := p.media[cid]; src != nil {
			r.afterUnlockLocked(func() { p.AttachMedia(cid, src) })
		}
		return t.info, nil
	}
	return nil, fmt.Errorf("%w: %q has no published track %q", ErrTrackNotFound, p.identity, trackSID)
}

// RequestCodec asks the publisher of the track with that SID to send it in codec (a
// MIME type) too, for this participant, which cannot take the codecs it sends: a
// subscribed_quality_update (video) or subscribed_audio_codec_update (audio), as
// LiveKit sends them, naming the primary codec and the one wanted.
func (p *Participant) RequestCodec(trackSID, codec string) {
	r := p.lockRoom()
	defer r.unlock()
	for _, pub := range r.participants {
		if pub.forwardOf != nil {
			continue
		}
		for _, t := range pub.tracks {
			if t.info.Sid != trackSID {
				continue
			}
			key := trackSID + " " + strings.ToLower(codec)
			if pub.codecsAsked[key] || len(pub.codecsAsked) >= MaxTracksPerParticipant*MaxSimulcastCodecs {
				return
			}
			pub.codecsAsked[key] = true
			pub.sink.Send(codecRequest(t.info, codec))
			return
		}
	}
}

// shortCodec is a codec as the codec updates name it: "h264" for "video/H264".
func shortCodec(mime string) string {
	_, name, ok := strings.Cut(strings.ToLower(mime), "/")
	if !ok {
		return strings.ToLower(mime)
	}
	return name
}

// codecRequest is the update asking a publisher to send track ti in codec as well as
// in its primary codec.
func codecRequest(ti *livekit.TrackInfo, codec string) *livekit.SignalResponse {
	primary, wanted := shortCodec(ti.MimeType), shortCodec(codec)
	if ti.Type == livekit.TrackType_AUDIO {
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_SubscribedAudioCodecUpdate{
			SubscribedAudioCodecUpdate: &livekit.SubscribedAudioCodecUpdate{
				TrackSid: ti.Sid,
				SubscribedAudioCodecs: []*livekit.SubscribedAudioCodec{
					{Codec: primary, Enabled: true}, {Codec: wanted, Enabled: true},
				},
			},
		}}
	}
	all := func() []*livekit.SubscribedQuality {
		return []*livekit.SubscribedQuality{
			{Quality: livekit.VideoQuality_LOW, Enabled: true},
			{Quality: livekit.VideoQuality_MEDIUM, Enabled: true},
			{Quality: livekit.VideoQuality_HIGH, Enabled: true},
		}
	}
	return &livekit.SignalResponse{Message: &livekit.SignalResponse_SubscribedQualityUpdate{
		SubscribedQualityUpdate: &livekit.SubscribedQualityUpdate{
			TrackSid: ti.Sid,
			SubscribedCodecs: []*livekit.SubscribedCodec{
				{Codec: primary, Qualities: all()}, {Codec: wanted, Qualities: all()},
			},
		},
	}}
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
	r.reconcileSubLocked(p)
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
	r.reconcileTracksLocked(p, p.trackSIDs())
	return nil
}

// reconcileLocked brings every participant's subscriptions in line with what it may
// and wants to receive: new ones are pushed to its connection, gone ones withdrawn.
// The first subscriber of a track makes its publisher hear track_subscribed. It costs
// O(participants × tracks); changes that concern one participant use the narrower
// reconcileSubLocked and forgetTracksLocked.
func (r *Room) reconcileLocked() {
	pubs := r.publishedLocked()
	for _, sub := range r.participants {
		r.reconcileSubWithLocked(sub, pubs, nil)
	}
}

// reconcileTracksLocked brings everyone's subscriptions to the tracks of pub with
// these SIDs (published, changed or gone) in line: O(participants × len(sids)).
func (r *Room) reconcileTracksLocked(pub *Participant, sids []string) {
	if len(sids) == 0 {
		return
	}
	scope := make(map[string]bool, len(sids))
	for _, sid := range sids {
		scope[sid] = true
	}
	var pubs []pubTrack
	for _, t := range pub.tracks {
		if scope[t.info.Sid] {
			pubs = append(pubs, pubTrack{pub, t})
		}
	}
	for _, sub := range r.participants {
		r.reconcileSubWithLocked(sub, pubs, scope)
	}
}

// trackSIDs lists the SIDs of p's tracks.
func (p *Participant) trackSIDs() []string {
	out := make([]string, len(p.tracks))
	for i, t := range p.tracks {
		out[i] = t.info.Sid
	}
	return out
}

// pubTrack is one published track and its publisher.
type pubTrack struct {
	pub *Participant
	t   *track
}

// publishedLocked lists the room's published tracks.
func (r *Room) publishedLocked() []pubTrack {
	var out []pubTrack
	for _, pub := range r.participants {
		for _, t := range pub.tracks {
			out = append(out, pubTrack{pub, t})
		}
	}
	return out
}

// reconcileSubLocked brings one participant's subscriptions in line (it joined, or
// its own permission or choices changed).
func (r *Room) reconcileSubLocked(sub *Participant) {
	r.reconcileSubWithLocked(sub, r.publishedLocked(), nil)
}

// forgetTracksLocked withdraws everyone's subscriptions to p's tracks (p left the
// room): what reconcileLocked would do, at O(participants × p's tracks).
func (r *Room) forgetTracksLocked(p *Participant) {
	for _, sub := range r.participants {
		for _, t := range p.tracks {
			sid := t.info.Sid
			delete(sub.denied, sid)
			if _, ok := sub.subscribed[sid]; ok {
				delete(sub.subscribed, sid)
				delete(sub.priorities, sid)
				sub.sink.Unsubscribe(sid)
			}
		}
	}
}

// reconcileSubWithLocked reconciles sub's subscriptions to pubs; with scope set, only
// the tracks with those SIDs are considered (the others stay as they are).
func (r *Room) reconcileSubWithLocked(sub *Participant, pubs []pubTrack, scope map[string]bool) {
	want := make(map[string]wanted)
	seen := make(map[string]bool)
	for _, pt := range pubs {
		pub, t := pt.pub, pt.t
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
			w := wanted{sub: subscriptionOf(pub, t), t: t}
			w.sub.Priority = r.priorityLocked(pub, t)
			want[t.info.Sid] = w
			if !pub.announced[t.info.Sid] && pub.forwardOf == nil {
				pub.announced[t.info.Sid] = true
				pub.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackSubscribed{
					TrackSubscribed: &livekit.TrackSubscribed{TrackSid: t.info.Sid},
				}})
			}
		}
	}
	for sid := range sub.denied {
		if !seen[sid] && (scope == nil || scope[sid]) {
			delete(sub.denied, sid)
		}
	}
	for sid := range sub.subscribed {
		if scope != nil && !scope[sid] {
			continue
		}
		if _, ok := want[sid]; !ok {
			delete(sub.subscribed, sid)
			delete(sub.priorities, sid)
			sub.sink.Unsubscribe(sid)
		}
	}
	for sid, w := range want {
		if sub.subscribed[sid] != w.t || sub.priorities[sid] != w.sub.Priority {
			sub.subscribed[sid] = w.t
			if w.sub.Priority == PriorityNormal {
				delete(sub.priorities, sid)
			} else {
				sub.priorities[sid] = w.sub.Priority
			}
			sub.sink.Subscribe(w.sub)
		}
	}
}

// wanted is a subscription the room wants a participant to have, and the track as it
// is now.
type wanted struct {
	sub Subscription
	t   *track
}

// dropSubscriptionsLocked withdraws all of p's subscriptions (it leaves the room).
func (r *Room) dropSubscriptionsLocked(p *Participant) {
	for sid := range p.subscribed {
		delete(p.subscribed, sid)
		p.sink.Unsubscribe(sid)
	}
	clear(p.priorities)
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

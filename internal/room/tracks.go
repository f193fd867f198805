package room

import (
	"fmt"
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/events"
)

// MaxTracksPerParticipant bounds the tracks one participant may publish or announce.
const MaxTracksPerParticipant = 64

// Bounds of a track announcement (AddTrackRequest), which becomes the TrackInfo that
// everyone who sees the publisher receives and that ListParticipants returns. The SDKs
// send at most 3 layers per codec (simulcast, or SVC spatial layers), 2 codecs (the
// primary and a backup), and a few of the 7 audio features.
const (
	// MaxTrackField bounds a track's cid, name and stream, in bytes.
	MaxTrackField = 256
	// MaxVideoLayers bounds the layers of a track and of each of its codecs.
	MaxVideoLayers = 4
	// MaxSimulcastCodecs bounds the codecs a track is published with.
	MaxSimulcastCodecs = 4
	// MaxAudioFeatures bounds a track's audio features.
	MaxAudioFeatures = 8
	// MaxPacketTrailerFeatures bounds a track's packet trailer features.
	MaxPacketTrailerFeatures = 4
	// MaxRIDLength bounds a layer's RTP stream id ("q", "h", "f" in the SDKs).
	MaxRIDLength = 32
	// MaxCodecNameLength bounds a codec name ("vp8", "video/H264", …).
	MaxCodecNameLength = 64
)

const maxTrackField = MaxTrackField

// validateTrackRequest checks the size of everything of req that the TrackInfo copies.
func validateTrackRequest(req *livekit.AddTrackRequest) error {
	count := func(what string, n, max int) error {
		if n > max {
			return fmt.Errorf("%w: add_track %s has %d entries; the limit is %d", ErrInvalidArgument, what, n, max)
		}
		return nil
	}
	layers := func(what string, ls []*livekit.VideoLayer) error {
		if err := count(what, len(ls), MaxVideoLayers); err != nil {
			return err
		}
		for _, l := range ls {
			if len(l.GetRid()) > MaxRIDLength {
				return fmt.Errorf("%w: add_track %s rid is %d bytes; the limit is %d", ErrInvalidArgument, what, len(l.GetRid()), MaxRIDLength)
			}
		}
		return nil
	}
	if err := layers("layers", req.Layers); err != nil {
		return err
	}
	if err := count("simulcast_codecs", len(req.SimulcastCodecs), MaxSimulcastCodecs); err != nil {
		return err
	}
	for _, c := range req.SimulcastCodecs {
		if len(c.GetCodec()) > MaxCodecNameLength || len(c.GetCid()) > MaxTrackField {
			return fmt.Errorf("%w: add_track simulcast_codecs: codec names are limited to %d bytes and cids to %d", ErrInvalidArgument, MaxCodecNameLength, MaxTrackField)
		}
		if err := layers("simulcast_codecs layers", c.GetLayers()); err != nil {
			return err
		}
	}
	if err := count("audio_features", len(req.AudioFeatures), MaxAudioFeatures); err != nil {
		return err
	}
	return count("packet_trailer_features", len(req.PacketTrailerFeatures), MaxPacketTrailerFeatures)
}

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

// AddTrack handles the participant's announcement of a track it is about to publish and
// returns the track with its server-made SID, for TrackPublishedResponse. The track
// becomes visible to others once the publisher's offer sends it (SyncSending).
func (p *Participant) AddTrack(req *livekit.AddTrackRequest) (*livekit.TrackInfo, error) {
	switch {
	case req.Cid == "":
		return nil, fmt.Errorf("%w: add_track has no cid", ErrInvalidArgument)
	case len(req.Cid) > maxTrackField || len(req.Name) > maxTrackField || len(req.Stream) > maxTrackField:
		return nil, fmt.Errorf("%w: add_track cid, name and stream are limited to %d bytes", ErrInvalidArgument, maxTrackField)
	case req.Type != livekit.TrackType_AUDIO && req.Type != livekit.TrackType_VIDEO:
		return nil, fmt.Errorf("%w: add_track type %s is not audio or video", ErrInvalidArgument, req.Type)
	}
	if err := validateTrackRequest(req); err != nil {
		return nil, err
	}
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return nil, fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	if !p.canPublishSourceLocked(req.Source) {
		return nil, fmt.Errorf("%w: %q may not publish %s tracks", ErrPermissionDenied, p.identity, req.Source)
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
	// The TrackInfo owns copies: the request's slices are never shared.
	ti := &livekit.TrackInfo{
		Sid:                   guid.New(guid.TrackPrefix),
		Type:                  req.Type,
		Name:                  req.Name,
		Muted:                 req.Muted,
		Width:                 req.Width,
		Height:                req.Height,
		Simulcast:             len(req.Layers) > 1,
		DisableDtx:            req.DisableDtx,
		Source:                req.Source,
		Layers:                cloneLayers(req.Layers),
		Stereo:                req.Stereo,
		DisableRed:            req.DisableRed,
		Encryption:            req.Encryption,
		Stream:                req.Stream,
		AudioFeatures:         slices.Clone(req.AudioFeatures),
		BackupCodecPolicy:     req.BackupCodecPolicy,
		PacketTrailerFeatures: slices.Clone(req.PacketTrailerFeatures),
	}
	normalizeLayers(ti.Type, ti.Layers)
	for _, c := range req.SimulcastCodecs {
		if c.GetCodec() == "" {
			continue
		}
		ti.Codecs = append(ti.Codecs, &livekit.SimulcastCodecInfo{
			MimeType: CanonicalMimeType(ti.Type, c.GetCodec()),
			Cid:      c.GetCid(),
			Layers:   cloneLayers(ti.Layers),
		})
	}
	if len(ti.Codecs) > 0 {
		ti.MimeType = ti.Codecs[0].MimeType
	}
	p.pending[req.Cid] = ti
	return ti, nil
}

// canonicalCodecs are codec names as LiveKit spells them in TrackInfo.
var canonicalCodecs = map[string]string{
	"opus": "audio/opus", "red": "audio/red", "pcmu": "audio/PCMU", "pcma": "audio/PCMA", "g722": "audio/G722",
	"vp8": "video/VP8", "vp9": "video/VP9", "h264": "video/H264", "h265": "video/H265", "av1": "video/AV1",
}

// CanonicalMimeType spells a codec ("vp8", "video/vp8", "VP8") as LiveKit does in
// TrackInfo ("video/VP8", "audio/opus").
func CanonicalMimeType(kind livekit.TrackType, codec string) string {
	name := strings.ToLower(codec)
	if _, after, ok := strings.Cut(name, "/"); ok {
		name = after
	}
	if c, ok := canonicalCodecs[name]; ok {
		return c
	}
	if strings.Contains(codec, "/") {
		return codec
	}
	if kind == livekit.TrackType_AUDIO {
		return "audio/" + codec
	}
	return "video/" + codec
}

// simulcastRIDs are the rids of simulcast layers by quality, as the SDKs send them.
var simulcastRIDs = [...]string{"q", "h", "f"}

// normalizeLayers fills in what LiveKit reports of each video layer: its rid and
// spatial layer, from its quality.
func normalizeLayers(kind livekit.TrackType, layers []*livekit.VideoLayer) {
	if kind != livekit.TrackType_VIDEO {
		return
	}
	for _, l := range layers {
		q := int(l.GetQuality())
		if q < 0 || q >= len(simulcastRIDs) {
			continue
		}
		if l.Rid == "" && len(layers) > 1 {
			l.Rid = simulcastRIDs[q]
		}
		if l.SpatialLayer == 0 {
			l.SpatialLayer = int32(q)
		}
	}
}

// SetLayerSSRC records the SSRC a track's layer (rid, or "" without simulcast) arrives
// on, once its media starts, in the track's layers as LiveKit reports them.
func (p *Participant) SetLayerSSRC(cid, rid string, ssrc uint32) {
	r := p.lockRoom()
	defer r.unlock()
	for i, t := range p.tracks {
		if t.cid != cid {
			continue
		}
		info := proto.Clone(t.info).(*livekit.TrackInfo)
		set := func(layers []*livekit.VideoLayer) bool {
			changed := false
			for _, l := range layers {
				if (rid == "" && len(layers) == 1 || l.Rid == rid) && l.Ssrc != ssrc {
					l.Ssrc = ssrc
					changed = true
				}
			}
			return changed
		}
		changed := set(info.Layers)
		for _, c := range info.Codecs {
			changed = set(c.Layers) || changed
		}
		if changed {
			p.tracks[i] = t.with(info)
			r.participantChangedLocked(p)
		}
		return
	}
}

func cloneLayers(ls []*livekit.VideoLayer) []*livekit.VideoLayer {
	if ls == nil {
		return nil
	}
	out := make([]*livekit.VideoLayer, len(ls))
	for i, l := range ls {
		c := proto.Clone(l).(*livekit.VideoLayer)
		c.ProtoReflect().SetUnknown(nil) // fields this server does not know are not relayed
		out[i] = c
	}
	return out
}

// SyncSending reconciles the participant's published tracks with what its latest offer
// sends: announced tracks that are now sent become published; published tracks that
// are no longer sent are unpublished. Everyone who can see the participant is told.
func (p *Participant) SyncSending(sending []SendingTrack) {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return
	}
	sent := make(map[string]bool, len(sending))
	for _, s := range sending {
		sent[s.CID] = true
	}
	changed := false
	kept := p.tracks[:0:0]
	actor := p.selfActor(r)
	for _, t := range p.tracks {
		if sent[t.cid] {
			kept = append(kept, t)
		} else {
			changed = true
			r.emitTrackLocked(events.TrackUnpublished, p, t.info, actor)
		}
	}
	var published []*livekit.TrackInfo
	for _, s := range sending {
		ti, ok := p.pending[s.CID]
		if !ok {
			continue
		}
		delete(p.pending, s.CID)
		ti = proto.Clone(ti).(*livekit.TrackInfo)
		ti.Mid = s.Mid
		if ti.MimeType == "" && s.MimeType != "" {
			ti.MimeType = CanonicalMimeType(ti.Type, s.MimeType)
		}
		if len(ti.Codecs) == 0 && ti.MimeType != "" {
			ti.Codecs = []*livekit.SimulcastCodecInfo{{MimeType: ti.MimeType, Cid: s.CID, Layers: cloneLayers(ti.Layers)}}
		}
		if len(ti.Codecs) > 0 {
			ti.Codecs[0].Mid = s.Mid
		}
		if p.lockedKind(ti) && !ti.Muted {
			// Published while a host keeps this kind muted: muted from the start.
			ti.Muted = true
			p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: ti.Sid, Muted: true}}})
		}
		src := p.media[s.CID]
		if src != nil {
			r.muteSourceLocked(src, ti.Muted)
		}
		kept = append(kept, &track{cid: s.CID, info: ti, source: src})
		changed = true
		published = append(published, ti)
	}
	if !changed {
		return
	}
	before := p.trackSIDs()
	p.tracks = kept
	r.participantChangedLocked(p)
	r.reconcileTracksLocked(p, append(before, p.trackSIDs()...))
	for _, ti := range published {
		r.emitTrackLocked(events.TrackPublished, p, ti, actor)
	}
}

// participantChangedLocked records a change of p that everyone who sees p (and p)
// must hear of, and mirrors it to p's stand-ins.
func (r *Room) participantChangedLocked(p *Participant) {
	p.bumpLocked()
	r.broadcastLocked(p, p.infoLocked(), true)
	r.roomChangedLocked()
	r.syncForwardsLocked(p)
}

// SetTrackMuted applies the publisher's own mute or unmute of one of its tracks.
func (p *Participant) SetTrackMuted(trackSID string, muted bool) error {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	if !muted {
		if ti := p.trackInfoLocked(trackSID); ti != nil && p.lockedKind(ti) {
			// The client unmuted itself locally: tell it again that the track is muted.
			p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: trackSID, Muted: true}}})
			return fmt.Errorf("%w: %q may not unmute %s until a host allows it", ErrHardMuted, p.identity, trackSID)
		}
	}
	_, err := r.setTrackMutedLocked(p, trackSID, muted, p.selfActor(r))
	return err
}

// setTrackMutedLocked mutes or unmutes one of p's tracks, published or announced, and
// returns it.
func (r *Room) setTrackMutedLocked(p *Participant, trackSID string, muted bool, actor events.Actor) (*livekit.TrackInfo, error) {
	for i, t := range p.tracks {
		if t.info.Sid != trackSID {
			continue
		}
		if t.info.Muted != muted {
			// Tracks are shared with stand-ins in other rooms: replace, never modify.
			info := proto.Clone(t.info).(*livekit.TrackInfo)
			info.Muted = muted
			p.tracks[i] = t.with(info)
			r.muteSourceLocked(t.source, muted)
			for _, b := range t.backups {
				r.muteSourceLocked(b, muted)
			}
			r.participantChangedLocked(p)
			kind := events.TrackUnmuted
			if muted {
				kind = events.TrackMuted
			}
			r.emitTrackLocked(kind, p, info, actor)
			return info, nil
		}
		return t.info, nil
	}
	for cid, ti := range p.pending {
		if ti.Sid == trackSID {
			ti = proto.Clone(ti).(*livekit.TrackInfo)
			ti.Muted = muted
			p.pending[cid] = ti
			return ti, nil
		}
	}
	return nil, fmt.Errorf("%w: %q has no track %q", ErrTrackNotFound, p.identity, trackSID)
}

// unpublishDisallowedLocked removes p's tracks (published and announced) that its
// permission no longer allows, and tells p's client to stop sending them. It reports
// whether anything was removed.
func (r *Room) unpublishDisallowedLocked(p *Participant, actor events.Actor) bool {
	changed := false
	kept := p.tracks[:0:0]
	for _, t := range p.tracks {
		if p.canPublishSourceLocked(t.info.Source) {
			kept = append(kept, t)
			continue
		}
		changed = true
		r.emitTrackLocked(events.TrackUnpublished, p, t.info, actor)
		p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackUnpublished{
			TrackUnpublished: &livekit.TrackUnpublishedResponse{TrackSid: t.info.Sid},
		}})
	}
	for cid, ti := range p.pending {
		if !p.canPublishSourceLocked(ti.Source) {
			delete(p.pending, cid)
		}
	}
	p.tracks = kept
	return changed
}

// trackOwnerLocked returns the participant publishing the track with sid.
func (r *Room) trackOwnerLocked(sid string) *Participant {
	for _, p := range r.participants {
		for _, t := range p.tracks {
			if t.info.Sid == sid {
				return p
			}
		}
	}
	return nil
}

// trackInfoLocked returns p's track (published or announced) with sid, or nil.
func (p *Participant) trackInfoLocked(sid string) *livekit.TrackInfo {
	for _, t := range p.tracks {
		if t.info.Sid == sid {
			return t.info
		}
	}
	for _, ti := range p.pending {
		if ti.Sid == sid {
			return ti
		}
	}
	return nil
}

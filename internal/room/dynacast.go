package room

import (
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"
)

// Dynacast: the SFU tells the room, per published video stream, the highest layer any
// subscriber wants (NoLayers when nobody receives it); the room tells the publisher,
// in a subscribed_quality_update naming every codec of the track, which layers to
// send, so unused layers stop being encoded and sent (the SDKs' dynacast).

// NoLayers is the demand for a stream nobody receives.
const NoLayers = -1

// videoQualities are the simulcast layers, lowest first.
var videoQualities = []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH}

// mimeSource is media that knows its codec (the SFU's receiver).
type mimeSource interface{ MimeType() string }

// SetMediaDemand records the highest layer anyone wants of one of the participant's
// streams and, when it belongs to a published video track, tells the publisher.
func (p *Participant) SetMediaDemand(src MediaSource, maxLayer int) {
	r := p.lockRoom()
	defer r.unlock()
	if p.left {
		return
	}
	if p.demand == nil {
		p.demand = map[MediaSource]int{}
	}
	p.demand[src] = maxLayer
	for _, t := range p.tracks {
		if t.source == src || slices.Contains(t.backups, src) {
			p.sendDemandLocked(t)
			return
		}
	}
}

// forgetDemandLocked drops the demand of media that ended.
func (p *Participant) forgetDemandLocked(src MediaSource) { delete(p.demand, src) }

// sendDemandLocked tells the publisher which layers of each codec of t to send.
func (p *Participant) sendDemandLocked(t *track) {
	if t.info.Type != livekit.TrackType_VIDEO || t.source == nil {
		return
	}
	qualities := func(maxLayer int) []*livekit.SubscribedQuality {
		out := make([]*livekit.SubscribedQuality, len(videoQualities))
		for i, q := range videoQualities {
			out[i] = &livekit.SubscribedQuality{Quality: q, Enabled: i <= maxLayer}
		}
		return out
	}
	upd := &livekit.SubscribedQualityUpdate{TrackSid: t.info.Sid}
	var named []string
	for i, src := range t.sources() {
		level, ok := p.demand[src]
		if !ok {
			level = len(videoQualities) - 1 // not measured yet: everything
		}
		mime := t.info.MimeType
		if m, ok := src.(mimeSource); ok {
			mime = m.MimeType()
		}
		codec := shortCodec(mime)
		named = append(named, codec)
		upd.SubscribedCodecs = append(upd.SubscribedCodecs, &livekit.SubscribedCodec{Codec: codec, Qualities: qualities(level)})
		if i == 0 {
			upd.SubscribedQualities = qualities(level) //nolint:staticcheck // still read by older SDKs
		}
	}
	// A codec asked for that the publisher does not send yet stays wanted.
	prefix := t.info.Sid + " "
	for key := range p.codecsAsked {
		if codec, ok := strings.CutPrefix(key, prefix); ok && !slices.Contains(named, shortCodec(codec)) {
			upd.SubscribedCodecs = append(upd.SubscribedCodecs, &livekit.SubscribedCodec{Codec: shortCodec(codec), Qualities: qualities(len(videoQualities) - 1)})
		}
	}
	p.sink.Send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SubscribedQualityUpdate{SubscribedQualityUpdate: upd}})
}

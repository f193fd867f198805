package signal

import (
	"sync"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// mediaOp is one change to what the session receives, applied in order by mediaLoop.
type mediaOp struct {
	subscribe   *room.Subscription
	unsubscribe string
	// settings: a track_setting for these SIDs.
	settings *livekit.UpdateTrackSettings
}

// mediaQueue holds the session's pending subscription changes. The room pushes them
// under its lock, so pushing only appends.
type mediaQueue struct {
	mu   sync.Mutex
	ops  []mediaOp
	wake chan struct{}
}

func newMediaQueue() *mediaQueue { return &mediaQueue{wake: make(chan struct{}, 1)} }

func (q *mediaQueue) push(op mediaOp) {
	q.mu.Lock()
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *mediaQueue) take() []mediaOp {
	q.mu.Lock()
	defer q.mu.Unlock()
	ops := q.ops
	q.ops = nil
	return ops
}

// Subscribe implements room.Sink.
func (s *Session) Subscribe(sub room.Subscription) { s.media.push(mediaOp{subscribe: &sub}) }

// Unsubscribe implements room.Sink.
func (s *Session) Unsubscribe(trackSID string) { s.media.push(mediaOp{unsubscribe: trackSID}) }

// mediaLoop applies subscription changes until the session ends, then stops every
// down track so the publishers' receivers forget this subscriber.
func (s *Session) mediaLoop() {
	defer s.h.wg.Done()
	downs := map[string]*sfu.DownTrack{}
	settings := map[string]*livekit.UpdateTrackSettings{}
	layers := map[string][]*livekit.VideoLayer{}
	defer func() {
		for _, d := range downs {
			d.Close()
		}
	}()
	for {
		select {
		case <-s.media.wake:
		case <-s.done:
			return
		}
		var need sections
		for _, op := range s.media.take() {
			switch {
			case op.subscribe != nil:
				layers[op.subscribe.TrackSID] = op.subscribe.Layers
				if d := s.startDownTrack(downs, *op.subscribe, &need); d != nil {
					applySettings(d, settings[op.subscribe.TrackSID], op.subscribe.Layers)
				}
			case op.unsubscribe != "":
				s.stopDownTrack(downs, op.unsubscribe, &need)
				delete(layers, op.unsubscribe)
			case op.settings != nil:
				for _, sid := range op.settings.GetTrackSids() {
					if len(settings) < maxTrackSettings || settings[sid] != nil {
						settings[sid] = op.settings
					}
					if d := downs[sid]; d != nil {
						applySettings(d, op.settings, layers[sid])
					}
				}
			}
		}
		if need.changed && s.sub == nil {
			s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_MediaSectionsRequirement{
				MediaSectionsRequirement: &livekit.MediaSectionsRequirement{NumAudios: need.audio, NumVideos: need.video},
			}})
		}
	}
}

// mediaTransport is the transport that carries subscribed media to the client.
func (s *Session) mediaTransport() *rtc.Transport {
	if s.sub != nil {
		return s.sub
	}
	return s.pub
}

// sections counts, in single peer connection mode, the media sections a batch of
// subscription changes needs from the client. Any change needs a new offer from the
// client, since only an answer can carry it: media_sections_requirement asks for the
// sections (none when free ones suffice) and that offer, as LiveKit does.
type sections struct {
	changed      bool
	audio, video uint32
}

func (s *Session) startDownTrack(downs map[string]*sfu.DownTrack, sub room.Subscription, need *sections) *sfu.DownTrack {
	sources := make([]*sfu.Receiver, 0, len(sub.Sources))
	for _, src := range sub.Sources {
		if r, ok := src.(*sfu.Receiver); ok {
			sources = append(sources, r)
		}
	}
	if d := downs[sub.TrackSID]; d != nil {
		d.SetPriority(sub.Priority)
		d.SetSources(sources) // the track changed: a backup codec started or ended
		return nil
	}
	if len(sources) == 0 {
		return nil
	}
	trackSID := sub.TrackSID
	d := rtc.NewDownTrack(trackSID, sub.PublisherSID+"|"+trackSID, sub.Video, sub.Codecs, sources, func(mime string) {
		s.p.RequestCodec(trackSID, mime)
	})
	d.SetPriority(sub.Priority)
	newSection, err := s.mediaTransport().AddDownTrack(d)
	if err != nil {
		s.log.Debug("could not send a subscribed track", "track", sub.TrackSID, "error", err)
		return nil
	}
	downs[sub.TrackSID] = d
	need.changed = true
	if newSection {
		if d.IsVideo() {
			need.video++
		} else {
			need.audio++
		}
	}
	return d
}

func (s *Session) stopDownTrack(downs map[string]*sfu.DownTrack, sid string, need *sections) {
	d := downs[sid]
	if d == nil {
		return
	}
	delete(downs, sid)
	d.Close()
	if err := s.mediaTransport().RemoveDownTrack(sid); err != nil {
		s.log.Debug("could not stop a subscribed track", "track", sid, "error", err)
	}
	need.changed = true
}

// maxTrackSettings bounds the track settings a session remembers for tracks it is not
// subscribed to (yet).
const maxTrackSettings = 1024

// applySettings applies a subscriber's track_setting to its down track: disabled pauses
// it; quality, or the size it displays the video at (adaptive stream), chooses the
// simulcast layer.
func applySettings(d *sfu.DownTrack, ts *livekit.UpdateTrackSettings, layers []*livekit.VideoLayer) {
	if ts == nil {
		return
	}
	d.SetPaused(ts.GetDisabled() || ts.GetQuality() == livekit.VideoQuality_OFF)
	if d.IsVideo() {
		d.SetTargetLayer(targetLayer(ts, layers))
	}
}

// targetLayer picks the simulcast layer for a track_setting: with a width or height,
// the smallest layer at least that large (the largest when none is); otherwise the
// layer of the quality asked for.
func targetLayer(ts *livekit.UpdateTrackSettings, layers []*livekit.VideoLayer) int {
	if w, h := ts.GetWidth(), ts.GetHeight(); (w > 0 || h > 0) && len(layers) > 0 {
		best, bestQ := -1, -1
		for _, l := range layers {
			q := int(l.GetQuality())
			if q < 0 || q >= sfu.MaxLayers {
				continue
			}
			if l.GetWidth() >= w && l.GetHeight() >= h && (best < 0 || q < best) {
				best = q
			}
			if q > bestQ {
				bestQ = q
			}
		}
		if best >= 0 {
			return best
		}
		return bestQ
	}
	switch ts.GetQuality() {
	case livekit.VideoQuality_LOW:
		return 0
	case livekit.VideoQuality_MEDIUM:
		return 1
	}
	return sfu.MaxLayers - 1
}

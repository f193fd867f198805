package room

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/usher-rtc/usher/internal/events"
)

// Every change of a room is published as one event while the room's lock is held, so
// each room's events leave in the order its changes were applied.

// emitLocked publishes e for this room, filling in the room's snapshot.
func (r *Room) emitLocked(e *events.Event) {
	bus := r.mgr.opts.Events
	if bus == nil {
		return
	}
	if e.Room == nil {
		e.Room = r.infoLocked()
	}
	bus.Publish(e)
}

// emitParticipantLocked publishes an event about p.
func (r *Room) emitParticipantLocked(kind events.Kind, p *Participant, actor events.Actor, reason string) {
	if r.mgr.opts.Events == nil {
		return
	}
	r.emitLocked(&events.Event{Kind: kind, Participant: p.infoLocked(), Actor: actor, Reason: reason})
}

// emitTrackLocked publishes an event about one of p's tracks.
func (r *Room) emitTrackLocked(kind events.Kind, p *Participant, ti *livekit.TrackInfo, actor events.Actor) {
	if r.mgr.opts.Events == nil {
		return
	}
	r.emitLocked(&events.Event{Kind: kind, Participant: p.infoLocked(), Track: ti, Actor: actor})
}

// emitLeftLocked publishes p's departure: participant_left when its media connection
// came up, participant_connection_aborted otherwise, after track_unpublished for each
// of its tracks (as LiveKit's webhooks say it).
func (r *Room) emitLeftLocked(p *Participant, reason livekit.DisconnectReason, actor events.Actor) {
	if r.mgr.opts.Events == nil || !p.activated {
		return
	}
	if p.waiting {
		if reason != DeniedReason {
			r.emitParticipantLocked(events.ParticipantWaitingLeft, p, actor, reason.String())
		}
		return
	}
	for _, t := range p.tracks {
		r.emitTrackLocked(events.TrackUnpublished, p, t.info, actor)
	}
	kind := events.ParticipantLeft
	if !p.everActive {
		kind = events.ParticipantConnectionAborted
	}
	r.emitParticipantLocked(kind, p, actor, reason.String())
}

// actorOf returns the actor carried by ctx.
func actorOf(ctx context.Context) events.Actor { return events.ActorFrom(ctx) }

// selfActor is p acting through its own connection.
func (p *Participant) selfActor(r *Room) events.Actor {
	return events.ParticipantActor(r.name, p.identity)
}

// leaveActor says who caused a departure with reason: the participant itself when
// its client left, the server otherwise (timeouts, failures, shutdown).
func (p *Participant) leaveActor(r *Room, reason livekit.DisconnectReason) events.Actor {
	if reason == livekit.DisconnectReason_CLIENT_INITIATED {
		return p.selfActor(r)
	}
	return events.Server
}

// participantChanges lists what differs between two snapshots of a participant.
func participantChanges(before, after *livekit.ParticipantInfo) []events.Change {
	var out []events.Change
	if before.Name != after.Name {
		out = append(out, events.Change{Field: "name", Before: before.Name, After: after.Name})
	}
	if before.Metadata != after.Metadata {
		out = append(out, events.Change{Field: "metadata", Before: before.Metadata, After: after.Metadata})
	}
	if !maps.Equal(before.Attributes, after.Attributes) {
		out = append(out, events.Change{Field: "attributes", Before: jsonText(before.Attributes), After: jsonText(after.Attributes)})
	}
	if b, a := permissionText(before.Permission), permissionText(after.Permission); b != a {
		out = append(out, events.Change{Field: "permission", Before: b, After: a})
	}
	return out
}

func jsonText(v map[string]string) string {
	if v == nil {
		v = map[string]string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func permissionText(p *livekit.ParticipantPermission) string {
	if p == nil {
		return "{}"
	}
	b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(p)
	return string(b)
}

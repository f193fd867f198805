// Package events defines the typed events every change of a room produces, with the
// actor who caused it, and the one fan-out (Bus) that hands each event, in the order
// the changes were applied, to every consumer: webhooks, the audit log, and later the
// console and other nodes. Consumers each have their own bounded queue, so none can
// block a room.
package events

import (
	"context"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Kind names what happened. The LiveKit webhook kinds keep LiveKit's names.
type Kind string

// The kinds of events.
const (
	RoomStarted         Kind = "room_started"
	RoomFinished        Kind = "room_finished"
	RoomMetadataChanged Kind = "room_metadata_changed"

	// ParticipantJoined is sent when a participant joins the room (its JoinResponse
	// is sent), as LiveKit's participant_joined.
	ParticipantJoined Kind = "participant_joined"
	// ParticipantActive is sent when a participant's media connection comes up.
	ParticipantActive Kind = "participant_active"
	// ParticipantLeft is sent when a participant whose media connection came up
	// leaves, for any reason.
	ParticipantLeft Kind = "participant_left"
	// ParticipantConnectionAborted is sent when a participant leaves before its
	// media connection ever came up.
	ParticipantConnectionAborted Kind = "participant_connection_aborted"
	// ParticipantUpdated is a change of name, metadata, attributes or permission;
	// Changes says which.
	ParticipantUpdated Kind = "participant_updated"
	// ParticipantRemoved is a removal by an admin or host (followed by
	// participant_left).
	ParticipantRemoved   Kind = "participant_removed"
	ParticipantMoved     Kind = "participant_moved"
	ParticipantForwarded Kind = "participant_forwarded"
	ParticipantBanned    Kind = "participant_banned"
	ParticipantUnbanned  Kind = "participant_unbanned"
	// ParticipantWaiting: a participant arrived in the waiting room.
	ParticipantWaiting Kind = "participant_waiting"
	// ParticipantAdmitted: a waiting participant was let in (participant_joined follows).
	ParticipantAdmitted Kind = "participant_admitted"
	// ParticipantDenied: a waiting participant was turned away for good.
	ParticipantDenied Kind = "participant_denied"
	// ParticipantWaitingLeft: a waiting participant left the waiting room without being
	// admitted or denied (it disconnected, or its wait timed out: see the reason).
	ParticipantWaitingLeft Kind = "participant_waiting_left"

	TrackPublished   Kind = "track_published"
	TrackUnpublished Kind = "track_unpublished"
	TrackMuted       Kind = "track_muted"
	TrackUnmuted     Kind = "track_unmuted"

	// SubscriptionChanged is a subscription changed by someone other than the
	// subscriber's own client (an admin's UpdateSubscriptions).
	SubscriptionChanged Kind = "subscription_changed"
	// DataSent is a data packet sent by the server's API (SendData).
	DataSent Kind = "data_sent"
)

// ActorKind says who caused an event.
type ActorKind string

// The kinds of actors.
const (
	// ActorServer is the server itself: timeouts, shutdown, a connection that failed.
	ActorServer ActorKind = "server"
	// ActorAdmin is a caller of the Room service with an API key's token.
	ActorAdmin ActorKind = "admin"
	// ActorTenant is a REST gateway caller with a tenant token.
	ActorTenant ActorKind = "tenant"
	// ActorParticipant is a participant acting through its own signal connection.
	ActorParticipant ActorKind = "participant"
)

// Actor is who caused an event, and from where.
type Actor struct {
	Kind ActorKind `json:"kind"`
	// APIKey is the key the caller's token was signed with (admins and tenants).
	APIKey string `json:"api_key,omitempty"`
	// Identity is the token's identity (an admin's, if its token has one) or the
	// acting participant's identity.
	Identity string `json:"identity,omitempty"`
	// Tenant is the REST tenant (auth_id) acting, or the tenant of the room an admin
	// acts on through the gateway.
	Tenant string `json:"tenant,omitempty"`
	// Room is the room of an acting participant.
	Room string `json:"room,omitempty"`
	// Address is the caller's network address.
	Address string `json:"address,omitempty"`
	// RequestID names the API request (X-Request-Id if the caller sent a valid one).
	RequestID string `json:"request_id,omitempty"`
}

// Server is the actor of what the server does by itself.
var Server = Actor{Kind: ActorServer}

// ParticipantActor is a participant acting for itself.
func ParticipantActor(room, identity string) Actor {
	return Actor{Kind: ActorParticipant, Room: room, Identity: identity}
}

type actorKey struct{}

// NewContext returns ctx carrying the actor of what is done with it.
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or Server.
func ActorFrom(ctx context.Context) Actor {
	if ctx == nil {
		return Server
	}
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Server
}

// Change is one field an event changed, before and after (JSON text or plain values).
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Event is one change of a room. It is immutable once published: consumers share it.
type Event struct {
	// ID is unique to the event; redeliveries keep it.
	ID string
	// Seq orders events as they were published in this process.
	Seq uint64
	// Time is when the change was applied.
	Time time.Time
	Kind Kind
	// Room is the room after the change (for room_finished, as it was last).
	Room *livekit.Room
	// Participant is the participant concerned, after the change.
	Participant *livekit.ParticipantInfo
	// Track is the track concerned, after the change.
	Track *livekit.TrackInfo
	Actor Actor
	// Reason is a disconnect reason (participant_left), a removal or ban reason.
	Reason string
	// Changes lists what changed (participant_updated, track_muted, bans …).
	Changes []Change
	// Destination is the room a participant was moved or forwarded to.
	Destination string
	// Until is when a ban ends (zero: until lifted).
	Until time.Time
	// Tenant is the tenant a ban belongs to (a tenant-wide ban has no room).
	Tenant string
	// Tracks lists the track SIDs of a subscription change.
	Tracks []string
	// Topic and Identities are the topic and destinations (identities or SIDs; none:
	// everyone) of data sent by the server.
	Topic      string
	Identities []string
}

// RoomName returns the name of the event's room.
func (e *Event) RoomName() string { return e.Room.GetName() }

// Moderation reports whether the event is one LiveKit's webhooks do not have: it is
// sent only to webhook URLs that opted in.
func (k Kind) Moderation() bool {
	switch k {
	case RoomStarted, RoomFinished, ParticipantJoined, ParticipantLeft, ParticipantConnectionAborted,
		TrackPublished, TrackUnpublished:
		return false
	}
	return true
}

package room

import (
	"fmt"
	"slices"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// RouteData delivers a data packet a participant sent to its destinations (every other
// participant when it names none). The server stamps the sender's identity and SID:
// what the client claims is never trusted. It returns how many participants it was
// queued for.
func (r *Room) RouteData(from *Participant, kind livekit.DataPacket_Kind, pkt *livekit.DataPacket) (int, error) {
	r.mu.Lock()
	if from.left {
		r.mu.Unlock()
		return 0, fmt.Errorf("%w: %q", ErrParticipantNotFound, from.identity)
	}
	if !from.permission.GetCanPublishData() {
		r.mu.Unlock()
		return 0, fmt.Errorf("%w: %q may not publish data", ErrPermissionDenied, from.identity)
	}
	identity, sid := from.identity, from.sid
	r.mu.Unlock()

	pkt.ParticipantIdentity = identity
	pkt.ParticipantSid = sid
	dests := pkt.DestinationIdentities
	var destSIDs []string
	if u := pkt.GetUser(); u != nil {
		u.ParticipantIdentity = identity //nolint:staticcheck // older clients read the deprecated field
		u.ParticipantSid = sid           //nolint:staticcheck
		if len(dests) == 0 {
			dests = u.DestinationIdentities //nolint:staticcheck
		}
		destSIDs = u.DestinationSids //nolint:staticcheck
	}
	return r.deliver(from, kind, pkt, dests, destSIDs)
}

// SendData delivers a server-made data packet (from the Room service) to destinations,
// or to everyone when none are named.
func (r *Room) SendData(kind livekit.DataPacket_Kind, pkt *livekit.DataPacket) (int, error) {
	return r.deliver(nil, kind, pkt, pkt.DestinationIdentities, nil)
}

func (r *Room) deliver(from *Participant, kind livekit.DataPacket_Kind, pkt *livekit.DataPacket, identities, sids []string) (int, error) {
	pkt.Kind = kind //nolint:staticcheck // still read by older clients
	data, err := proto.Marshal(pkt)
	if err != nil {
		return 0, fmt.Errorf("encoding data packet: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	all := len(identities) == 0 && len(sids) == 0
	for _, p := range r.participants {
		if p == from || !p.activated || p.left {
			continue
		}
		if all || slices.Contains(identities, p.identity) || slices.Contains(sids, p.sid) {
			p.sink.SendData(kind, data)
			n++
		}
	}
	return n, nil
}

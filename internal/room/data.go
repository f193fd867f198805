package room

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// MaxDataPacketSize bounds an encoded data packet: the largest message a data channel
// carries.
const MaxDataPacketSize = 65536

// RouteData delivers a data packet the participant sent to its destinations (every
// other participant when it names none). The server stamps the sender's identity and
// SID: what the client claims is never trusted.
func (p *Participant) RouteData(kind livekit.DataPacket_Kind, pkt *livekit.DataPacket) error {
	r := p.lockRoom()
	if p.left {
		r.unlock()
		return fmt.Errorf("%w: %q", ErrParticipantNotFound, p.identity)
	}
	if !p.permission.GetCanPublishData() {
		r.unlock()
		return fmt.Errorf("%w: %q may not publish data", ErrPermissionDenied, p.identity)
	}
	identity, sid := p.identity, p.sid
	r.unlock()

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
	_, err := p.Room().deliver(p, kind, pkt, dests, destSIDs)
	return err
}

// deliver encodes pkt once and queues it for every recipient. It returns how many
// participants it was queued for.
func (r *Room) deliver(from *Participant, kind livekit.DataPacket_Kind, pkt *livekit.DataPacket, identities, sids []string) (int, error) {
	pkt.Kind = kind //nolint:staticcheck // still read by older clients
	data, err := proto.Marshal(pkt)
	if err != nil {
		return 0, fmt.Errorf("encoding data packet: %w", err)
	}
	if len(data) > MaxDataPacketSize {
		return 0, fmt.Errorf("%w: the data packet is %d bytes; the limit is %d", ErrInvalidArgument, len(data), MaxDataPacketSize)
	}
	r.mu.Lock()
	defer r.unlock()
	n := 0
	all := len(identities) == 0 && len(sids) == 0
	var backlog []string
	for _, p := range r.participants {
		if p == from || !p.activated || p.left || p.forwardOf != nil || p.waiting {
			continue
		}
		if all || slices.Contains(identities, p.identity) || slices.Contains(sids, p.sid) {
			if !p.sink.SendData(kind, data) {
				backlog = append(backlog, p.identity)
			}
			n++
		}
	}
	if len(backlog) > 0 {
		return n, fmt.Errorf("%w (%q)", ErrDataBacklog, backlog)
	}
	return n, nil
}

// nonceRing remembers the last nonces of SendData requests in a room, so a request
// retried with the same nonce is delivered once.
type nonceRing struct {
	seen [256][]byte
	next int
}

// add records nonce and reports whether it was new.
func (n *nonceRing) add(nonce []byte) bool {
	for _, s := range n.seen {
		if s != nil && bytes.Equal(s, nonce) {
			return false
		}
	}
	n.seen[n.next] = append([]byte(nil), nonce...)
	n.next = (n.next + 1) % len(n.seen)
	return true
}

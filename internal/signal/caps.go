package signal

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/usher-rtc/usher/internal/apierr"
)

// identityKey names one identity in one room.
type identityKey struct{ room, identity string }

// connCaps counts the open signal WebSockets per client address and per identity in a
// room, from the upgrade until the socket is closed (a resumed session's new socket
// counts as one more until the old one is closed).
type connCaps struct {
	perIP, perIdentity int // 0: unlimited

	mu         sync.Mutex
	byIP       map[string]int
	byIdentity map[identityKey]int
}

func newConnCaps(perIP, perIdentity int) *connCaps {
	return &connCaps{
		perIP:       perIP,
		perIdentity: perIdentity,
		byIP:        make(map[string]int),
		byIdentity:  make(map[identityKey]int),
	}
}

// clientIP is the address the request came from. Forwarding headers are not trusted:
// a client could name any address in them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkLocked says why one more socket for ip and id would exceed a cap.
func (c *connCaps) checkLocked(ip string, id identityKey) error {
	if c.perIP > 0 && c.byIP[ip] >= c.perIP {
		return fmt.Errorf("%w: %d signal connections are open from %s; the limit is %d (signal.max_connections_per_ip)",
			apierr.ErrTooManyConnections, c.byIP[ip], ip, c.perIP)
	}
	if c.perIdentity > 0 && c.byIdentity[id] >= c.perIdentity {
		return fmt.Errorf("%w: %d signal connections are open for %q in room %q; the limit is %d (signal.max_connections_per_identity)",
			apierr.ErrTooManyConnections, c.byIdentity[id], id.identity, id.room, c.perIdentity)
	}
	return nil
}

// check reports whether one more socket would be admitted, without taking a place.
func (c *connCaps) check(ip, room, identity string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkLocked(ip, identityKey{room, identity})
}

// acquire takes a place for one socket, or says which cap is reached. The returned
// function gives the place back; call it exactly once.
func (c *connCaps) acquire(ip, room, identity string) (release func(), err error) {
	id := identityKey{room, identity}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkLocked(ip, id); err != nil {
		return nil, err
	}
	c.byIP[ip]++
	c.byIdentity[id]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byIP[ip]--; c.byIP[ip] <= 0 {
			delete(c.byIP, ip)
		}
		if c.byIdentity[id]--; c.byIdentity[id] <= 0 {
			delete(c.byIdentity, id)
		}
	}, nil
}

// open returns how many sockets are counted in all, for tests and metrics.
func (c *connCaps) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byIP {
		n += v
	}
	return n
}

package testutil

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/usher-rtc/usher/internal/config"
)

// TURN relay with network impairment, for tests on a machine without tc netem: a Pion
// TURN server on 127.0.0.1 whose client-facing socket drops, delays and caps the
// packets it carries, both ways. A client forced to relay through it (the server
// announces it in rtc.turn_servers; lksdk.WithICETransportPolicy(relay)) has its whole
// media path impaired, and nobody else's.

// TURNRelay is a running relay.
type TURNRelay struct {
	Host     string
	Port     int
	Username string
	Password string

	conn   *impairedConn
	server *turn.Server
}

// Impairment is what the relay does to each packet, in each direction.
type Impairment struct {
	// Loss drops this share of packets (0 to 1).
	Loss float64
	// Delay holds each packet this long.
	Delay time.Duration
	// RateBps caps each direction at this many bits per second (0: no cap); packets
	// over it are dropped, as a policer would.
	RateBps int
}

// StartTURNRelay starts a relay that stops with the test.
func StartTURNRelay(t testing.TB) *TURNRelay {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ic := &impairedConn{PacketConn: pc}
	r := &TURNRelay{Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port, Username: "tester", Password: "secret", conn: ic}
	const realm = "usher-test"
	key := turn.GenerateAuthKey(r.Username, realm, r.Password)
	r.server, err = turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == r.Username
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            ic,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1"},
		}},
	})
	if err != nil {
		_ = pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.server.Close() })
	return r
}

// Config is the rtc.turn_servers entry that announces the relay.
func (r *TURNRelay) Config() config.TURNServer {
	return config.TURNServer{Host: r.Host, Port: r.Port, Protocol: "udp", Username: r.Username, Credential: r.Password}
}

// Addr is the relay's address.
func (r *TURNRelay) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Impair sets what happens to the packets from now on (the zero value: nothing).
func (r *TURNRelay) Impair(im Impairment) { r.conn.set(im) }

// Counts returns how many packets the relay carried and dropped, both ways.
func (r *TURNRelay) Counts() (carried, dropped uint64) {
	return r.conn.carried.Load(), r.conn.dropped.Load()
}

// DirectionCounts returns the packets carried and dropped from the client (0) and to
// it (1).
func (r *TURNRelay) DirectionCounts() (carried, dropped [2]uint64) {
	for i := range 2 {
		carried[i], dropped[i] = r.conn.dirCarried[i].Load(), r.conn.dirDropped[i].Load()
	}
	return carried, dropped
}

// impairedConn impairs the packets it reads and writes.
type impairedConn struct {
	net.PacketConn
	mu      sync.Mutex
	im      Impairment
	buckets [2]tokenBucket // 0: read (towards the relay), 1: write (towards the client)

	carried, dropped atomic.Uint64
	// dirCarried and dirDropped count per direction (0: from the client, 1: to it).
	dirCarried, dirDropped [2]atomic.Uint64

	startOnce sync.Once
	in        chan heldPacket
	readErr   error
}

func (c *impairedConn) set(im Impairment) {
	c.mu.Lock()
	c.im = im
	c.buckets = [2]tokenBucket{}
	c.mu.Unlock()
}

// pass decides the fate of a packet of n bytes going direction dir: dropped, or
// carried after the delay.
func (c *impairedConn) pass(dir, n int) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.im
	if im.Loss > 0 && rand.Float64() < im.Loss {
		c.dropped.Add(1)
		c.dirDropped[dir].Add(1)
		return 0, false
	}
	if im.RateBps > 0 && !c.buckets[dir].take(n*8, im.RateBps, time.Now()) {
		c.dropped.Add(1)
		return 0, false
	}
	c.carried.Add(1)
	c.dirCarried[dir].Add(1)
	return im.Delay, true
}

// ReadFrom returns the next packet that made it through, once its delay is over.
// Packets are read off the socket as they come, so a delay is latency, not a slower
// link.
func (c *impairedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.startOnce.Do(func() {
		c.in = make(chan heldPacket, 4096)
		go c.readLoop()
	})
	p, ok := <-c.in
	if !ok {
		return 0, nil, c.readErr
	}
	if wait := time.Until(p.release); wait > 0 {
		time.Sleep(wait)
	}
	return copy(b, p.data), p.addr, nil
}

// heldPacket is a packet read off the socket, waiting for its delay.
type heldPacket struct {
	data    []byte
	addr    net.Addr
	release time.Time
}

func (c *impairedConn) readLoop() {
	defer close(c.in)
	buf := make([]byte, 1600)
	for {
		n, addr, err := c.PacketConn.ReadFrom(buf)
		if err != nil {
			c.readErr = err
			return
		}
		delay, ok := c.pass(0, n)
		if !ok {
			continue
		}
		select {
		case c.in <- heldPacket{data: append([]byte(nil), buf[:n]...), addr: addr, release: time.Now().Add(delay)}:
		default:
			c.dropped.Add(1) // the relay fell behind: a full queue drops
		}
	}
}

func (c *impairedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	delay, ok := c.pass(1, len(b))
	if !ok {
		return len(b), nil // lost on the way
	}
	if delay <= 0 {
		return c.PacketConn.WriteTo(b, addr)
	}
	pkt := append([]byte(nil), b...)
	time.AfterFunc(delay, func() { _, _ = c.PacketConn.WriteTo(pkt, addr) })
	return len(b), nil
}

// tokenBucket polices a rate: a burst of 100 ms of it at most.
type tokenBucket struct {
	tokens float64
	at     time.Time
}

func (b *tokenBucket) take(bits, rateBps int, now time.Time) bool {
	burst := float64(rateBps) / 10
	if b.at.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*float64(rateBps))
	}
	b.at = now
	if b.tokens < float64(bits) {
		return false
	}
	b.tokens -= float64(bits)
	return true
}

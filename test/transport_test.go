package test

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// pionClient is a hand-made dual peer connection client: a raw signal connection plus
// a Pion subscriber connection with the network types the test chooses. It shows what
// the server offers (candidates) and whether a transport can connect.
type pionClient struct {
	*rawClient
	sub        *webrtc.PeerConnection
	candidates []string
	msgs       chan *livekit.SignalResponse
}

func newPionClient(t *testing.T, srv *testutil.TestServer, identity string, networks ...webrtc.NetworkType) *pionClient {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	c := &pionClient{rawClient: dialRaw(t, srv, testutil.JoinToken(t, "net", identity), ""), sub: pc, msgs: make(chan *livekit.SignalResponse, 64)}
	go func() {
		defer close(c.msgs)
		for {
			res, _, err := c.next(time.Minute)
			if err != nil {
				return
			}
			c.msgs <- res
		}
	}()
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		b, _ := json.Marshal(cand.ToJSON())
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: string(b), Target: livekit.SignalTarget_SUBSCRIBER,
		}}})
	})
	return c
}

// negotiate answers the server's subscriber offer and applies its candidates until the
// connection is up or timeout passes. It reports whether it connected.
func (c *pionClient) negotiate(timeout time.Duration) bool {
	c.t.Helper()
	deadline := time.After(timeout)
	for c.sub.ConnectionState() != webrtc.PeerConnectionStateConnected {
		var res *livekit.SignalResponse
		select {
		case res = <-c.msgs:
			if res == nil {
				c.t.Fatal("signal connection closed")
			}
		case <-time.After(50 * time.Millisecond):
			continue
		case <-deadline:
			return false
		}
		switch m := res.Message.(type) {
		case *livekit.SignalResponse_Offer:
			if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.Offer.Sdp}); err != nil {
				c.t.Fatal(err)
			}
			answer, err := c.sub.CreateAnswer(nil)
			if err != nil {
				c.t.Fatal(err)
			}
			if err := c.sub.SetLocalDescription(answer); err != nil {
				c.t.Fatal(err)
			}
			c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{Type: "answer", Sdp: answer.SDP}}})
		case *livekit.SignalResponse_Trickle:
			var init webrtc.ICECandidateInit
			if err := json.Unmarshal([]byte(m.Trickle.CandidateInit), &init); err != nil {
				c.t.Fatalf("server sent a malformed candidate %q", m.Trickle.CandidateInit)
			}
			c.candidates = append(c.candidates, init.Candidate)
			_ = c.sub.AddICECandidate(init)
		}
	}
	return true
}

func TestICEOverTCPFallback(t *testing.T) {
	srv := testutil.StartServer(t)
	c := newPionClient(t, srv, "tcp-only", webrtc.NetworkTypeTCP4)
	if !c.negotiate(15 * time.Second) {
		t.Fatalf("a client restricted to TCP could not connect; server candidates: %v", c.candidates)
	}
	pair, err := c.sub.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote.Protocol != webrtc.ICEProtocolTCP || int(pair.Remote.Port) != srv.Config.RTC.TCPPort {
		t.Errorf("selected pair %v (%v), want the server's rtc.tcp_port %d over TCP", pair, err, srv.Config.RTC.TCPPort)
	}
	waitActive(t, srv, "net", "tcp-only")
}

func TestUDPCandidatesUseTheOneMuxedPort(t *testing.T) {
	srv := testutil.StartServer(t)
	a := newPionClient(t, srv, "a", webrtc.NetworkTypeUDP4)
	b := newPionClient(t, srv, "b", webrtc.NetworkTypeUDP4)
	for _, c := range []*pionClient{a, b} {
		if !c.negotiate(15 * time.Second) {
			t.Fatalf("UDP client could not connect; candidates %v", c.candidates)
		}
	}
	// Every UDP candidate of both sessions names the same port: rtc.udp_port.
	for _, c := range []*pionClient{a, b} {
		n := 0
		for _, cand := range c.candidates {
			f := strings.Fields(cand)
			if len(f) > 5 && strings.EqualFold(f[2], "udp") {
				n++
				if f[5] != strconv.Itoa(srv.Config.RTC.UDPPort) {
					t.Errorf("UDP candidate %q is not on rtc.udp_port %d", cand, srv.Config.RTC.UDPPort)
				}
			}
		}
		if n == 0 {
			t.Errorf("the server sent no UDP candidate: %v", c.candidates)
		}
	}
}

// The test server's ICE socket is on 127.0.0.1. Both tests below make the server
// advertise another address, 127.0.0.2, where a one-to-one NAT (natForwarder) relays
// to it, as in a deployment behind NAT: without the rewrite the candidates would say
// 127.0.0.1, so the assertion can fail.
const advertisedIP = "127.0.0.2"

func TestNodeIPIsAdvertised(t *testing.T) {
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.RTC.NodeIP = advertisedIP }))
	newNATForwarder(t, advertisedIP, srv.Config.RTC.UDPPort)
	c := newPionClient(t, srv, "n", webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4)
	if !c.negotiate(15 * time.Second) {
		t.Fatalf("could not connect through the node IP; candidates %v", c.candidates)
	}
	assertCandidatesOnly(t, c.candidates, advertisedIP, srv.Config.RTC.UDPPort)
}

func TestExternalIPFromSTUN(t *testing.T) {
	// A STUN server that tells every client its address is 127.0.0.2.
	stunAddr := newFakeSTUN(t, net.ParseIP(advertisedIP))
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.RTC.UseExternalIP = true
		c.RTC.STUNServers = []string{stunAddr}
	}))
	newNATForwarder(t, advertisedIP, srv.Config.RTC.UDPPort)
	c := newPionClient(t, srv, "x", webrtc.NetworkTypeUDP4)
	if !c.negotiate(15 * time.Second) {
		t.Fatalf("could not connect through the discovered IP; candidates %v", c.candidates)
	}
	assertCandidatesOnly(t, c.candidates, advertisedIP, srv.Config.RTC.UDPPort)
}

// newFakeSTUN answers every STUN binding request on a loopback port with mapped as
// the client's address, and returns the port's address.
func newFakeSTUN(t *testing.T, mapped net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			port := from.(*net.UDPAddr).Port
			res, err := stun.Build(req, stun.BindingSuccess, &stun.XORMappedAddress{IP: mapped, Port: port}, stun.Fingerprint)
			if err == nil {
				_, _ = pc.WriteTo(res.Raw, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// newNATForwarder relays UDP between ip:port and the server's ICE socket on
// 127.0.0.1:port, for one client at a time: what a one-to-one NAT in front of the
// server does.
func newNATForwarder(t *testing.T, ip string, port int) {
	t.Helper()
	outer, err := net.ListenPacket("udp4", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("NAT address %s:%d: %v", ip, port, err)
	}
	inner, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	var client atomic.Pointer[net.Addr]
	var wg sync.WaitGroup
	wg.Add(2)
	t.Cleanup(func() {
		_ = outer.Close()
		_ = inner.Close()
		wg.Wait()
	})
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := outer.ReadFrom(buf)
			if err != nil {
				return
			}
			client.Store(&from)
			_, _ = inner.WriteTo(buf[:n], server)
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := inner.ReadFrom(buf)
			if err != nil {
				return
			}
			if to := client.Load(); to != nil {
				_, _ = outer.WriteTo(buf[:n], *to)
			}
		}
	}()
}

// assertCandidatesOnly checks that every IPv4 candidate advertises ip (the rewrite
// applies to its address family; IPv6 candidates keep their own addresses), and that
// there is a UDP one on udpPort.
func assertCandidatesOnly(t *testing.T, candidates []string, ip string, udpPort int) {
	t.Helper()
	n, onPort := 0, false
	for _, cand := range candidates {
		f := strings.Fields(cand)
		if len(f) < 6 || net.ParseIP(f[4]).To4() == nil {
			continue
		}
		n++
		if f[4] != ip {
			t.Errorf("candidate %q does not advertise %s", cand, ip)
		}
		if strings.EqualFold(f[2], "udp") && f[5] == strconv.Itoa(udpPort) {
			onPort = true
		}
	}
	if n == 0 {
		t.Fatalf("the server sent no IPv4 candidates: %v", candidates)
	}
	if !onPort {
		t.Errorf("no UDP candidate on rtc.udp_port %d: %v", udpPort, candidates)
	}
}

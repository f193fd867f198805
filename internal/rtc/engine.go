// Package rtc runs Usher's WebRTC transports on Pion: one ICE/UDP port muxed for all
// sessions, an ICE/TCP fallback port, the advertised address, and the per-participant
// peer connections with their data channels. It is the only package importing Pion.
package rtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// Config configures the Engine.
type Config struct {
	// UDPPort is the single UDP port all ICE sessions share; 0 uses PortRange.
	UDPPort int
	// UDPConn, when not nil, is an open socket all ICE/UDP sessions share, used instead
	// of opening UDPPort. Candidates carry its address (loopback addresses only with
	// IncludeLoopback). The engine owns it from NewEngine on.
	UDPConn net.PacketConn
	// PortRangeStart and PortRangeEnd bound per-session UDP ports when UDPPort is 0.
	PortRangeStart, PortRangeEnd int
	// TCPPort is the ICE/TCP port; 0 disables ICE over TCP.
	TCPPort int
	// TCPListener, when not nil, is an open listener for ICE over TCP, used instead of
	// opening TCPPort. The engine owns it from NewEngine on.
	TCPListener net.Listener
	// NodeIP, when set, replaces the host candidates' addresses.
	NodeIP string
	// IncludeLoopback also gathers candidates on the loopback interface.
	IncludeLoopback bool
	// Logger receives Pion's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Engine holds what every peer connection of the server shares: the Pion API with its
// setting engine, and the ICE muxes.
type Engine struct {
	cfg    Config
	api    *webrtc.API
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	tcpLn  net.Listener
	log    *slog.Logger
}

// NewEngine opens the ICE ports (or adopts cfg.UDPConn and cfg.TCPListener) and
// prepares the Pion API. When it fails, it has closed what it was given.
func NewEngine(cfg Config) (*Engine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, log: log}
	lf := &loggerFactory{log: log}

	var se webrtc.SettingEngine
	se.LoggerFactory = lf
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetICETimeouts(10*time.Second, 20*time.Second, 2*time.Second)
	// A server has a routable address: no mDNS, which would cost sockets and
	// goroutines per connection.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// Data channels are read by our own loop with a small buffer that grows only for
	// large messages, instead of Pion's 64 KiB buffer per channel (four per participant).
	se.DetachDataChannels()
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}

	switch {
	case cfg.UDPConn != nil:
		if b, ok := cfg.UDPConn.(interface{ SetReadBuffer(int) error }); ok {
			_ = b.SetReadBuffer(udpBufferSize)
		}
		if b, ok := cfg.UDPConn.(interface{ SetWriteBuffer(int) error }); ok {
			_ = b.SetWriteBuffer(udpBufferSize)
		}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: cfg.UDPConn, Logger: lf.NewLogger("ice")})
		e.udpMux = mux
		se.SetICEUDPMux(mux)
	case cfg.UDPPort > 0:
		opts := []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithLogger(lf.NewLogger("ice")),
			ice.UDPMuxFromPortWithReadBufferSize(udpBufferSize),
			ice.UDPMuxFromPortWithWriteBufferSize(udpBufferSize),
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6),
		}
		if cfg.IncludeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
		if err != nil {
			closeGiven(cfg)
			return nil, fmt.Errorf("rtc.udp_port %d: %w", cfg.UDPPort, err)
		}
		e.udpMux = mux
		se.SetICEUDPMux(mux)
	case cfg.PortRangeStart > 0:
		if err := se.SetEphemeralUDPPortRange(uint16(cfg.PortRangeStart), uint16(cfg.PortRangeEnd)); err != nil {
			closeGiven(cfg)
			return nil, fmt.Errorf("rtc.port_range_start/end: %w", err)
		}
	}
	if cfg.TCPListener != nil || cfg.TCPPort > 0 {
		ln := cfg.TCPListener
		if ln == nil {
			var err error
			ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.TCPPort)))
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("rtc.tcp_port %d: %w", cfg.TCPPort, err)
			}
		}
		e.tcpLn = ln
		e.tcpMux = webrtc.NewICETCPMux(lf.NewLogger("ice-tcp"), ln, 32)
		se.SetICETCPMux(e.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	if cfg.NodeIP != "" {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        []string{cfg.NodeIP},
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("rtc.node_ip: %w", err)
		}
	}

	var me webrtc.MediaEngine
	if err := registerCodecs(&me); err != nil {
		e.Close()
		return nil, fmt.Errorf("registering codecs: %w", err)
	}
	// Redundant audio, which browsers publish Opus in when it is offered (subscribers
	// without it get the Opus inside).
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: sfu.MimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		e.Close()
		return nil, fmt.Errorf("registering codecs: %w", err)
	}
	var ir interceptor.Registry
	if err := configureMedia(&me, &ir); err != nil {
		e.Close()
		return nil, err
	}
	e.api = webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me), webrtc.WithInterceptorRegistry(&ir))
	return e, nil
}

// closeGiven closes the sockets a failed NewEngine was handed before it adopted them.
func closeGiven(cfg Config) {
	if cfg.UDPConn != nil {
		_ = cfg.UDPConn.Close()
	}
	if cfg.TCPListener != nil {
		_ = cfg.TCPListener.Close()
	}
}

// registerCodecs registers the codecs Usher negotiates: Pion's usual set without RTX,
// so retransmissions arrive on the stream they repair. (Pion does not deliver the RTX
// retransmissions of simulcast layers, which it tells apart by repaired-rid: losses
// between a simulcast publisher and the server were never repaired.)
func registerCodecs(me *webrtc.MediaEngine) error {
	audio := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	}
	for _, c := range audio {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	video := func(mime, fmtp string, pt webrtc.PayloadType) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb}, PayloadType: pt}
	}
	for _, c := range []webrtc.RTPCodecParameters{
		video(webrtc.MimeTypeVP8, "", 96),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", 102),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f", 127),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 125),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f", 108),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", 123),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032", 112),
		video(webrtc.MimeTypeAV1, "", 45),
		video(webrtc.MimeTypeVP9, "profile-id=0", 98),
		video(webrtc.MimeTypeVP9, "profile-id=2", 100),
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
	}
	return nil
}

// configureMedia registers the RTP header extensions Usher negotiates and the
// interceptors every peer connection runs: NACK (asking publishers to retransmit, and
// answering subscribers' NACKs from a bounded buffer of what was sent), transport-wide
// CC feedback and RTCP receiver reports to publishers.
func configureMedia(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
	for _, ext := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
		{sfu.DependencyDescriptorURI, webrtc.RTPCodecTypeVideo},
		{sfu.AbsCaptureTimeURI, webrtc.RTPCodecTypeAudio},
		{sfu.AbsCaptureTimeURI, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: ext.uri}, ext.kind); err != nil {
			return fmt.Errorf("registering header extension %s: %w", ext.uri, err)
		}
	}
	if err := webrtc.ConfigureNackWithOptions(me, ir, nil, nack.ResponderSize(nackBufferPackets)); err != nil {
		return fmt.Errorf("configuring NACK: %w", err)
	}
	// Transport-wide congestion control feedback to publishers, so a browser's send-side
	// bandwidth estimate (and with it the simulcast layers it sends) follows the real
	// path to the server rather than losses alone.
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return fmt.Errorf("configuring transport-wide CC feedback: %w", err)
	}
	// Receiver reports to publishers. Sender reports to subscribers are the
	// transports' own (they carry the publishers' time mapping).
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return fmt.Errorf("configuring RTCP reports: %w", err)
	}
	ir.Add(rr)
	return nil
}

// udpBufferSize is the socket buffer asked for on the muxed ICE/UDP port: every
// session's packets queue there, and a burst larger than the kernel's default (about
// 200 KB) would be dropped before the server reads it. The kernel caps it at
// net.core.rmem_max / wmem_max (raise those for large rooms).
const udpBufferSize = 16 << 20

// nackBufferPackets is how many sent packets each subscriber stream keeps to answer
// NACKs from (about a second of 1 Mbit/s video).
const nackBufferPackets = 256

// Close releases the ICE ports. Peer connections must be closed first.
func (e *Engine) Close() {
	if e.udpMux != nil {
		_ = e.udpMux.Close()
	}
	if e.tcpMux != nil {
		_ = e.tcpMux.Close()
	}
	if e.tcpLn != nil {
		_ = e.tcpLn.Close()
	}
}

// TCPAddr returns the ICE/TCP listener address, or nil.
func (e *Engine) TCPAddr() net.Addr {
	if e.tcpLn == nil {
		return nil
	}
	return e.tcpLn.Addr()
}

// UDPAddrs returns the addresses of the muxed ICE/UDP port, or nil without one.
func (e *Engine) UDPAddrs() []net.Addr {
	if e.udpMux == nil {
		return nil
	}
	return e.udpMux.GetListenAddresses()
}

// loggerFactory routes Pion's logs to slog at warn level and above; Pion's debug and
// info output is too chatty to be useful in a server log.
type loggerFactory struct{ log *slog.Logger }

func (f *loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return &pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l *pionLogger) Trace(string)          {}
func (l *pionLogger) Tracef(string, ...any) {}
func (l *pionLogger) Debug(string)          {}
func (l *pionLogger) Debugf(string, ...any) {}
func (l *pionLogger) Info(string)           {}
func (l *pionLogger) Infof(string, ...any)  {}
func (l *pionLogger) Warn(msg string)       { l.log.Debug(msg) }
func (l *pionLogger) Warnf(f string, a ...any) {
	l.log.Debug(fmt.Sprintf(f, a...))
}

// Pion reports as errors what is routine for a server (a peer that went away while a
// packet was in flight), so its errors are logged at debug level as well: what matters
// to an operator is logged by Usher itself.
func (l *pionLogger) Error(msg string) { l.log.Debug(msg) }
func (l *pionLogger) Errorf(f string, a ...any) {
	l.log.Debug(fmt.Sprintf(f, a...))
}

// ErrClosed is returned by a closed transport.
var ErrClosed = errors.New("transport closed")

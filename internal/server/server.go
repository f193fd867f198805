// Package server wires Usher's parts into one HTTP server: the health check, Twirp
// RoomService, and (later) the /rtc signal endpoint, with CORS and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/usher-rtc/usher/docs"
	"github.com/usher-rtc/usher/internal/api/rest"
	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
	"github.com/usher-rtc/usher/internal/signal"
	"github.com/usher-rtc/usher/internal/store"
	"github.com/usher-rtc/usher/internal/version"
	"github.com/usher-rtc/usher/internal/webhook"
)

// Server is one running Usher.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	rooms    *room.Manager
	verifier *auth.Verifier
	engine   *rtc.Engine
	signal   *signal.Handler
	store    *store.Store
	revoked  *auth.Revocations
	bans     *auth.Bans
	// events carries every change of every room to the webhook sender, the audit log
	// and the other consumers.
	events    *events.Bus
	audit     *audit.Log
	webhooks  *webhook.Sender // nil without webhook URLs
	stopSweep chan struct{}
	sweepDone chan struct{}
	stopOnce  sync.Once
	started   bool

	httpSrv   *http.Server
	listeners []net.Listener
	serveWG   sync.WaitGroup
}

// New builds a server from a validated config. It does not listen yet.
func New(cfg *config.Config, log *slog.Logger) (*Server, error) {
	return NewWithListeners(cfg, log, Listeners{})
}

// Listeners are sockets the caller opened for the server, so that no other process
// can take a port between choosing it and listening on it (tests pass sockets bound
// to port 0). A nil field leaves the server to open what the config says.
type Listeners struct {
	// ICEUDP carries every ICE/UDP session, instead of a socket on rtc.udp_port.
	ICEUDP net.PacketConn
	// ICETCP accepts ICE/TCP connections, instead of a listener on rtc.tcp_port.
	ICETCP net.Listener
}

func (l Listeners) close() {
	if l.ICEUDP != nil {
		_ = l.ICEUDP.Close()
	}
	if l.ICETCP != nil {
		_ = l.ICETCP.Close()
	}
}

// NewWithListeners is New with sockets the caller already opened. The server owns
// them from the call on: Shutdown closes them, and so does NewWithListeners when it
// fails.
func NewWithListeners(cfg *config.Config, log *slog.Logger, ln Listeners) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Keys) == 0 {
		ln.close()
		return nil, fmt.Errorf("%w: no API keys", config.ErrInvalid)
	}
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		ln.close()
		return nil, err
	}
	revoked, err := auth.NewRevocations(st, cfg.Auth.MaxTokenLifetime)
	if err != nil {
		ln.close()
		_ = st.Close()
		return nil, err
	}
	bans, err := auth.NewBans(st)
	if err != nil {
		ln.close()
		_ = st.Close()
		return nil, err
	}
	presets, skipped, err := room.NewPresets(cfg.Presets, st)
	if err != nil {
		ln.close()
		_ = st.Close()
		return nil, err
	}
	for _, w := range skipped {
		log.Warn("presets: " + w)
	}
	bus := events.NewBus()
	s := &Server{
		cfg:       cfg,
		log:       log,
		verifier:  auth.NewVerifier(auth.StaticKeys(cfg.Keys)).WithMaxTokenLifetime(cfg.Auth.MaxTokenLifetime),
		store:     st,
		revoked:   revoked,
		bans:      bans,
		events:    bus,
		audit:     newAuditLog(cfg, st, bus, log),
		stopSweep: make(chan struct{}),
		sweepDone: make(chan struct{}),
		rooms: room.NewManager(room.Options{
			Defaults: cfg.Room,
			Limits:   cfg.Limit,
			Logger:   log.With("component", "room"),
			Revoker:  revoked,
			Bans:     bans,
			Events:   bus,
			Presets:  cfg.Presets,

			PresetRegistry: presets,
		}),
	}

	nodeIP := cfg.RTC.NodeIP
	if nodeIP == "" && cfg.RTC.UseExternalIP {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ip, err := rtc.DiscoverExternalIP(ctx, cfg.RTC.STUNServers)
		cancel()
		if err != nil {
			ln.close()
			_ = st.Close()
			return nil, fmt.Errorf("rtc.use_external_ip: %w (set rtc.node_ip instead)", err)
		}
		log.Info("discovered external IP", "ip", ip)
		nodeIP = ip
	}
	engine, err := rtc.NewEngine(rtc.Config{
		UDPPort:         cfg.RTC.UDPPort,
		UDPConn:         ln.ICEUDP,
		PortRangeStart:  cfg.RTC.PortRangeStart,
		PortRangeEnd:    cfg.RTC.PortRangeEnd,
		TCPPort:         cfg.RTC.TCPPort,
		TCPListener:     ln.ICETCP,
		NodeIP:          nodeIP,
		IncludeLoopback: cfg.RTC.EnableLoopbackCandidate,
		Logger:          log.With("component", "rtc"),
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	s.engine = engine
	sc := cfg.Signal
	s.signal = signal.NewHandler(signal.Options{
		Rooms:           s.rooms,
		Verifier:        s.verifier,
		Keys:            auth.StaticKeys(cfg.Keys),
		Engine:          engine,
		Revocations:     revoked,
		AutoCreate:      cfg.Room.AutoCreate,
		PingInterval:    sc.PingInterval,
		PingTimeout:     sc.PingTimeout,
		ResumeWindow:    sc.ResumeWindow,
		JoinTimeout:     sc.JoinTimeout,
		RefreshInterval: sc.RefreshInterval,
		TokenTTL:        sc.TokenTTL,
		QueueSize:       sc.QueueSize,
		WriteTimeout:    sc.WriteTimeout,
		ServerInfo:      serverInfo(cfg),
		ICEServers:      iceServers(cfg.RTC.TURNServers),
		Limits:          cfg.Limit,

		MaxConnectionsPerIP:       sc.MaxConnectionsPerIP,
		MaxConnectionsPerIdentity: sc.MaxConnectionsPerIdentity,

		Logger: log.With("component", "signal"),
	})

	roomService := twirpapi.NewRoomService(s.rooms)
	moderation := twirpapi.NewModeration(s.rooms)
	hostControls := twirpapi.NewHostControls(s.rooms)
	waitingRoom := twirpapi.NewWaitingRoom(s.rooms)
	presetsService := twirpapi.NewPresetsService(s.rooms)
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.serveRoot)
	if cfg.REST.Enabled {
		local := localServices{room: roomService, moderation: moderation, hostControls: hostControls, waitingRoom: waitingRoom, presets: presetsService}
		gw, err := newGateway(cfg, local, s.audit, s.rooms.Presets(), log, s.httpPort)
		if err != nil {
			engine.Close()
			_ = st.Close()
			return nil, err
		}
		mux.Handle("/livekit/", gw)
	}
	mux.Handle("/rtc", s.signal)
	mux.Handle("/rtc/", s.signal)
	mux.Handle("/twirp/livekit.RoomService/", twirpapi.NewHandler(roomService, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
		Logger:      log.With("component", "twirp"),
	}))
	mux.Handle("/twirp/"+twirpapi.AuditService+"/", twirpapi.NewAuditHandler(s.audit, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: 64 << 10, // a query: a few bounded filters
		Logger:      log.With("component", "audit"),
	}))
	mux.Handle("/twirp/"+twirpapi.HostControlsServiceName+"/", twirpapi.NewHostControlsHandler(hostControls, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: 64 << 10, // a room, a few short lists
		Logger:      log.With("component", "twirp"),
	}))
	mux.Handle("/twirp/"+twirpapi.WaitingRoomServiceName+"/", twirpapi.NewWaitingRoomHandler(waitingRoom, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: 64 << 10, // a room, an identity, a message
		Logger:      log.With("component", "twirp"),
	}))
	mux.Handle("/twirp/"+twirpapi.ModerationServiceName+"/", twirpapi.NewModerationHandler(moderation, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
		Logger:      log.With("component", "twirp"),
	}))
	mux.Handle("/twirp/"+twirpapi.PresetsServiceName+"/", twirpapi.NewPresetsHandler(presetsService, twirpapi.HandlerOptions{
		Verifier:    s.verifier,
		MaxBodySize: cfg.Limit.MaxRequestBodySize,
		Logger:      log.With("component", "twirp"),
	}))
	mux.Handle("/twirp/"+twirpapi.WebhooksService+"/", twirpapi.NewJSONHandler(twirpapi.WebhooksService,
		twirpapi.WebhooksMethods(func() webhook.Status { return s.webhooks.Status() }), twirpapi.HandlerOptions{
			Verifier:    s.verifier,
			MaxBodySize: cfg.Limit.MaxRequestBodySize,
			Logger:      log.With("component", "twirp"),
		}))
	mux.HandleFunc("/twirp/", func(w http.ResponseWriter, r *http.Request) {
		svc := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/twirp/"), "/", 2)[0]
		apierr.WriteTwirp(w, fmt.Errorf("%w: service %q is not provided by Usher", apierr.ErrBadRoute, svc))
	})

	s.httpSrv = &http.Server{
		Handler:           canonicalPath(cors(mux)),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if s.webhooks, err = startWebhooks(cfg, st, bus, log); err != nil {
		engine.Close()
		_ = st.Close()
		return nil, err
	}
	s.audit.Start()
	return s, nil
}

// Rooms returns the room manager.
func (s *Server) Rooms() *room.Manager { return s.rooms }

// Verifier returns the token verifier.
func (s *Server) Verifier() *auth.Verifier { return s.verifier }

// Start listens on every bind address and serves in the background.
func (s *Server) Start() error {
	binds := s.cfg.BindAddresses
	if len(binds) == 0 {
		binds = []string{""}
	}
	for _, b := range binds {
		addr := net.JoinHostPort(b, strconv.Itoa(s.cfg.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
	}
	s.started = true
	go s.sweep()
	for _, ln := range s.listeners {
		s.serveWG.Add(1)
		go func(ln net.Listener) {
			defer s.serveWG.Done()
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "addr", ln.Addr().String(), "error", err)
			}
		}(ln)
		s.log.Info("listening", "addr", ln.Addr().String())
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	s.listeners = nil
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, 0, len(s.listeners))
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// URL returns an http:// URL of the first listener, with a loopback host when the
// server listens on all addresses.
func (s *Server) URL() string {
	if len(s.listeners) == 0 {
		return ""
	}
	addr := s.listeners[0].Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Shutdown stops accepting connections, waits for in-flight requests to finish (or ctx
// to end), then closes every room, which sends every participant a leave with
// SERVER_SHUTDOWN, waits for their sessions to end, and releases the WebRTC ports.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.httpSrv.Shutdown(ctx)
	s.serveWG.Wait()
	s.rooms.Close()
	if serr := s.signal.Close(ctx); err == nil {
		err = serr
	}
	s.engine.Close()
	// The rooms' last events (room_finished …) are queued by now: into the outbox with
	// them, before the store closes.
	s.webhooks.Stop(ctx)
	s.stopOnce.Do(func() {
		close(s.stopSweep)
		if s.started {
			<-s.sweepDone
		}
		// The rooms are closed: their last events are queued, and written now.
		s.audit.Close()
		if cerr := s.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// sweep drops expired revocations and bans every minute until the server stops.
func (s *Server) sweep() {
	defer close(s.sweepDone)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case now := <-t.C:
			if err := s.revoked.Sweep(now); err != nil {
				s.log.Warn("sweeping expired revocations failed", "error", err)
			}
			if err := s.bans.Sweep(now); err != nil {
				s.log.Warn("sweeping ended bans failed", "error", err)
			}
		}
	}
}

// Events returns the bus every room change is published on.
func (s *Server) Events() *events.Bus { return s.events }

// Audit returns the audit log.
func (s *Server) Audit() *audit.Log { return s.audit }

// newAuditLog returns the audit log of cfg, reading the bus.
func newAuditLog(cfg *config.Config, st *store.Store, bus *events.Bus, log *slog.Logger) *audit.Log {
	a := cfg.Audit
	return audit.New(audit.Options{
		Store: st, Bus: bus, Record: a.Enabled, QueueSize: a.QueueSize,
		Retention: a.Retention, MaxRecords: a.MaxRecords, Logger: log.With("component", "audit"),
	})
}

// Bans returns the ban list.
func (s *Server) Bans() *auth.Bans { return s.bans }

// Store returns the embedded store of durable state.
func (s *Server) Store() *store.Store { return s.store }

// Revocations returns the token revocation list.
func (s *Server) Revocations() *auth.Revocations { return s.revoked }

// localServices are this server's services the REST gateway acts through when it
// fronts no upstream.
type localServices struct {
	room         livekit.RoomService
	moderation   twirpapi.ModerationService
	hostControls twirpapi.HostControlsService
	waitingRoom  twirpapi.WaitingRoomService
	presets      twirpapi.PresetsService
}

// newGateway builds the REST gateway over this server's services (local), or over the
// configured upstream's. port returns the port the server listens on (known once it
// has started, when cfg.Port is 0).
func newGateway(cfg *config.Config, local localServices, auditLog rest.AuditLog, presets *room.Presets, log *slog.Logger, port func() int) (*rest.Gateway, error) {
	rc := cfg.REST
	openapiJSON, err := docs.OpenAPIJSON()
	if err != nil {
		return nil, err
	}
	opts := rest.Options{
		Tokens:            rc.Tokens,
		AuthRequired:      rc.AuthRequired,
		LiveKitURL:        rc.LiveKitURL,
		DefaultLiveKitURL: func() string { return defaultLiveKitURL(cfg, port()) },
		CORSOrigins:       rc.CORSOrigins,
		Limits:            cfg.Limit,
		MaxTokenSize:      auth.MaxTokenSize,
		DefaultTokenTTL:   rc.DefaultTokenTTL,
		MaxTokenTTL:       rc.MaxTokenTTL,
		MaxBodySize:       1 << 20,
		OpenAPIYAML:       docs.OpenAPIYAML,
		OpenAPIJSON:       openapiJSON,
		Logger:            log.With("component", "rest"),
	}
	if u := rc.Upstream; u.URL != "" {
		opts.Service = rest.Upstream(u.URL, u.APIKey, u.APISecret, u.Timeout)
		usher := rest.UpstreamUsher(u.URL, u.APIKey, u.APISecret, u.Timeout)
		opts.Moderation, opts.HostControls, opts.WaitingRoom, opts.Presets = usher, usher, usher, usher
		opts.APIKey, opts.APISecret = u.APIKey, u.APISecret
		opts.Timeout = u.Timeout + time.Second
		log.Info("REST gateway fronts an upstream server", "url", u.URL)
	} else {
		opts.Service, opts.Moderation, opts.Local, opts.Audit = local.room, local.moderation, true, auditLog
		opts.HostControls, opts.WaitingRoom, opts.Presets = local.hostControls, local.waitingRoom, local.presets
		opts.PresetExists = func(name string) bool { _, ok := presets.Get(name); return ok }
		opts.APIKey = rc.APIKey
		if opts.APIKey == "" {
			for k := range cfg.Keys {
				opts.APIKey = k
			}
		}
		opts.APISecret = cfg.Keys[opts.APIKey]
		opts.Timeout = 10 * time.Second
	}
	if !rc.AuthRequired {
		log.Warn("REST gateway: a request without an API token may act on every room (set rest.auth_required to refuse it)")
	}
	return rest.New(opts), nil
}

// defaultLiveKitURL is the URL of this server's /rtc from its configuration (the
// default of rest.livekit_url): ws:// with rtc.node_ip, else the first bind address
// that is not unspecified, else 127.0.0.1, and the HTTP port.
func defaultLiveKitURL(cfg *config.Config, port int) string {
	host := cfg.RTC.NodeIP
	if host == "" {
		for _, a := range cfg.BindAddresses {
			if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() {
				host = a
				break
			}
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return "ws://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// httpPort is the port the HTTP server listens on: the first listener's once started
// (cfg.Port may be 0, for any free port), else cfg.Port.
func (s *Server) httpPort() int {
	if len(s.listeners) > 0 {
		if a, ok := s.listeners[0].Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return s.cfg.Port
}

// serverInfo is what clients are told about the server. The version is the LiveKit
// server version whose protocol Usher speaks, since client SDKs compare it to enable
// features; Usher's own version is in debug_info.
func serverInfo(cfg *config.Config) *livekit.ServerInfo {
	return &livekit.ServerInfo{
		Edition:   livekit.ServerInfo_Standard,
		Version:   version.LiveKitCompatible,
		Protocol:  version.ProtocolVersion,
		NodeId:    "usher",
		DebugInfo: "usher " + version.Version,
	}
}

// canonicalPath refuses a request whose path is not in its one clean form ("//",
// "/./", "/../" segments) instead of letting the mux redirect it: an API path has one
// spelling, so nothing downstream can be reached under another name. Encoded slashes
// stay encoded, so REST path parameters may still contain them.
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p == "" || clean == p {
			next.ServeHTTP(w, r)
			return
		}
		err := fmt.Errorf("%w: the path %q is not in its canonical form", apierr.ErrBadRoute, printablePath(p))
		switch {
		case strings.HasPrefix(p, "/twirp/"):
			apierr.WriteTwirp(w, err)
		case strings.HasPrefix(p, "/livekit/"):
			apierr.WriteREST(w, err)
		default:
			http.Error(w, "404 page not found", http.StatusNotFound)
		}
	})
}

// printablePath bounds a path for an error message.
func printablePath(p string) string {
	if len(p) > 200 {
		return p[:200] + "…"
	}
	return p
}

// serveRoot answers the health check at "/" and 404 elsewhere.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK"))
}

// iceServers are the TURN servers of rtc.turn_servers as the join response announces
// them.
func iceServers(servers []config.TURNServer) []*livekit.ICEServer {
	out := make([]*livekit.ICEServer, 0, len(servers))
	for _, ts := range servers {
		out = append(out, &livekit.ICEServer{Urls: []string{ts.URL()}, Username: ts.Username, Credential: ts.Credential})
	}
	return out
}

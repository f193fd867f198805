// Package config holds Usher's one typed configuration: its defaults, the strict
// YAML loader, the environment and flag overlay, and validation.
//
// Key names follow livekit-server's config file wherever the setting exists there,
// so an existing livekit.yaml keeps working.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DevAPIKey and DevAPISecret are the well-known development credentials used by --dev,
// the same as livekit-server's.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "secret"
)

// MinSecretLength is the shortest API secret accepted outside development mode.
const MinSecretLength = 32

// ErrInvalid is wrapped by every validation and loading error of this package.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole server configuration.
type Config struct {
	// Port is the HTTP port serving the health check, Twirp and /rtc.
	Port int `yaml:"port"`
	// BindAddresses are the IP addresses the HTTP server listens on; empty means all.
	BindAddresses []string `yaml:"bind_addresses"`
	// Keys maps API keys to their secrets.
	Keys map[string]string `yaml:"keys"`
	// KeyFile names a YAML file of "key: secret" lines, used instead of Keys.
	KeyFile string `yaml:"key_file"`
	// Development turns on the development defaults (see ApplyDev).
	Development bool `yaml:"development"`
	// DataDir holds Usher's durable state (token revocations) in an embedded database.
	DataDir string `yaml:"data_dir"`

	Auth    AuthConfig    `yaml:"auth"`
	RTC     RTCConfig     `yaml:"rtc"`
	Room    RoomConfig    `yaml:"room"`
	Signal  SignalConfig  `yaml:"signal"`
	REST    RESTConfig    `yaml:"rest"`
	HTTP    HTTPConfig    `yaml:"http"`
	Logging LoggingConfig `yaml:"logging"`
	Limit   LimitConfig   `yaml:"limit"`
	Audit   AuditConfig   `yaml:"audit"`
	Webhook WebhookConfig `yaml:"webhook"`
	// Presets are named permission sets for participants (docs/host-controls.md).
	Presets map[string]PresetConfig `yaml:"presets"`
}

// AuditConfig configures the durable audit log (Usher only; docs/audit.md).
type AuditConfig struct {
	// Enabled records every room event, with its actor, in the data directory.
	Enabled bool `yaml:"enabled"`
	// Retention is how long records are kept; 0 keeps them until MaxRecords.
	Retention time.Duration `yaml:"retention"`
	// MaxRecords caps the records kept, the oldest going first; 0 is no cap.
	MaxRecords int64 `yaml:"max_records"`
	// QueueSize bounds the events waiting to be written; events beyond it are
	// missing from the log, which records the gap.
	QueueSize int `yaml:"queue_size"`
}

// AuthConfig bounds the access tokens the server accepts (Usher only).
type AuthConfig struct {
	// MaxTokenLifetime is the longest lifetime (expiry minus issue time) of a token the
	// server accepts. A removal keeps every older token of the identity out for that
	// long, so it is also how long a removal is remembered.
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
}

// WebhookConfig configures the webhooks, as livekit-server reads them (urls, api_key,
// filter_params), with Usher's durable delivery and moderation events on top.
type WebhookConfig struct {
	// URLs receive LiveKit's webhook events, exactly as livekit-server sends them.
	URLs []string `yaml:"urls"`
	// ModerationURLs receive LiveKit's events and Usher's moderation events
	// (participant_updated, participant_removed, track_muted …), every event carrying
	// its actor (Usher only).
	ModerationURLs []string `yaml:"moderation_urls"`
	// APIKey is the key whose secret signs every webhook (default: the only
	// configured key).
	APIKey string `yaml:"api_key"`
	// FilterParams limits which events are sent, by name, as livekit-server's.
	FilterParams WebhookFilter `yaml:"filter_params"`
	// RetryFor is how long an event is retried before it is dropped (Usher only).
	RetryFor time.Duration `yaml:"retry_for"`
	// RetryMinInterval and RetryMaxInterval bound the exponential backoff between
	// two attempts of one event (Usher only).
	RetryMinInterval time.Duration `yaml:"retry_min_interval"`
	RetryMaxInterval time.Duration `yaml:"retry_max_interval"`
	// RequestTimeout bounds one delivery attempt (Usher only).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// QueueSize bounds the events waiting, in memory, to be written to the outbox;
	// events that do not fit are dropped and counted (Usher only).
	QueueSize int `yaml:"queue_size"`
	// MaxPending bounds the events waiting in the outbox for one URL; newer events for
	// a URL that far behind are dropped and counted (Usher only).
	MaxPending int `yaml:"max_pending"`
}

// WebhookFilter selects events by name: IncludeEvents, when set, lists the only events
// sent; otherwise ExcludeEvents lists events not sent.
type WebhookFilter struct {
	IncludeEvents []string `yaml:"include_events"`
	ExcludeEvents []string `yaml:"exclude_events"`
}

// Enabled reports whether any webhook URL is configured.
func (w *WebhookConfig) Enabled() bool { return len(w.URLs)+len(w.ModerationURLs) > 0 }

// HTTPConfig bounds how long the HTTP server waits for clients (Usher only). The /rtc
// WebSocket is exempt once upgraded: it has its own ping timeout.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response, from the end of the request headers.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for its next request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// RESTConfig configures the REST gateway under /livekit/ (Usher only).
type RESTConfig struct {
	// Enabled serves the gateway (on by default with --dev).
	Enabled bool `yaml:"enabled"`
	// AuthRequired makes an API token mandatory (env AUTH_REQUIRED). Without it, a
	// request without a token runs with no auth id and may act on every room.
	AuthRequired bool `yaml:"auth_required"`
	// Tokens maps API tokens to the auth id (tenant) they act as.
	Tokens map[string]string `yaml:"tokens"`
	// TokenFile names a YAML file of "token: auth_id" lines, used with Tokens.
	TokenFile string `yaml:"token_file"`
	// APIKey is the key that signs the join tokens the gateway issues (default: the
	// only configured key).
	APIKey string `yaml:"api_key"`
	// LiveKitURL is the URL clients connect to, returned with issued tokens (default:
	// the server's own address: rtc.node_ip or the first bind address, and the port).
	// The request's Host header is never used.
	LiveKitURL string `yaml:"livekit_url"`
	// CORSOrigins are the web origins ("https://app.example.com") allowed to call the
	// gateway from a browser. Any other cross-origin request is refused.
	CORSOrigins []string `yaml:"cors_origins"`
	// DefaultTokenTTL and MaxTokenTTL bound issued join tokens.
	DefaultTokenTTL time.Duration `yaml:"default_token_ttl"`
	MaxTokenTTL     time.Duration `yaml:"max_token_ttl"`
	// Upstream, when set, makes the gateway front another LiveKit-compatible server
	// through its Twirp RoomService instead of this one.
	Upstream UpstreamConfig `yaml:"upstream"`
}

// UpstreamConfig names a remote LiveKit-compatible server.
type UpstreamConfig struct {
	URL       string        `yaml:"url"`
	APIKey    string        `yaml:"api_key"`
	APISecret string        `yaml:"api_secret"`
	Timeout   time.Duration `yaml:"timeout"`
}

// SignalConfig tunes the /rtc signal connections (Usher only).
type SignalConfig struct {
	// PingInterval and PingTimeout are announced to clients; a connection silent for
	// PingTimeout is dropped (the participant may still resume).
	PingInterval time.Duration `yaml:"ping_interval"`
	PingTimeout  time.Duration `yaml:"ping_timeout"`
	// ResumeWindow is how long a participant whose signal connection dropped stays in
	// the room, waiting for the client to resume, before leaving with SIGNAL_CLOSE.
	ResumeWindow time.Duration `yaml:"resume_window"`
	// JoinTimeout is how long a participant may take to connect its primary transport
	// before it is removed with JOIN_FAILURE.
	JoinTimeout time.Duration `yaml:"join_timeout"`
	// RefreshInterval is how often a connected client gets a fresh token; TokenTTL is
	// that token's validity.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	TokenTTL        time.Duration `yaml:"token_ttl"`
	// QueueSize bounds a connection's outbound queue, in messages; a client that falls
	// this far behind is disconnected.
	QueueSize int `yaml:"queue_size"`
	// WriteTimeout bounds writing one message to a client.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxConnectionsPerIP bounds the signal WebSockets open from one client address.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxConnectionsPerIdentity bounds the signal WebSockets open for one identity in
	// one room (a resuming client briefly holds two).
	MaxConnectionsPerIdentity int `yaml:"max_connections_per_identity"`
}

// RTCConfig configures WebRTC transports.
type RTCConfig struct {
	// UDPPort is the one UDP port all ICE sessions are muxed on. 0 uses the port range.
	UDPPort int `yaml:"udp_port"`
	// TCPPort is the ICE/TCP fallback port. 0 disables ICE over TCP.
	TCPPort int `yaml:"tcp_port"`
	// PortRangeStart and PortRangeEnd bound per-session UDP ports when UDPPort is 0.
	PortRangeStart int `yaml:"port_range_start"`
	PortRangeEnd   int `yaml:"port_range_end"`
	// NodeIP is the address advertised in ICE candidates.
	NodeIP string `yaml:"node_ip"`
	// UseExternalIP discovers the public address with STUN and advertises it.
	UseExternalIP bool `yaml:"use_external_ip"`
	// STUNServers are asked for the public address when UseExternalIP is set.
	STUNServers []string `yaml:"stun_servers"`
	// EnableLoopbackCandidate also offers 127.0.0.1 / ::1 candidates (on in --dev).
	EnableLoopbackCandidate bool `yaml:"enable_loopback_candidate"`
	// TURNServers are announced to clients in the join response (ice_servers), as
	// livekit-server's rtc.turn_servers: clients that cannot reach the server directly,
	// or are told to relay, go through them.
	TURNServers []TURNServer `yaml:"turn_servers"`
}

// TURNServer is one TURN server clients may relay through.
type TURNServer struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Protocol is udp, tcp or tls.
	Protocol   string `yaml:"protocol"`
	Username   string `yaml:"username"`
	Credential string `yaml:"credential"`
}

// MaxTURNServers bounds rtc.turn_servers.
const MaxTURNServers = 16

// URL is the server's ICE URL: turn:host:port?transport=udp|tcp, or turns: for tls.
func (t TURNServer) URL() string {
	host := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	switch t.Protocol {
	case "tls":
		return "turns:" + host + "?transport=tcp"
	case "tcp":
		return "turn:" + host + "?transport=tcp"
	}
	return "turn:" + host + "?transport=udp"
}

// RoomConfig holds defaults for rooms.
type RoomConfig struct {
	// AutoCreate creates a room when a participant joins one that does not exist.
	AutoCreate bool `yaml:"auto_create"`
	// EmptyTimeout is how long, in seconds, a room nobody joined stays open.
	EmptyTimeout uint32 `yaml:"empty_timeout"`
	// DepartureTimeout is how long, in seconds, a room stays open after the last participant left.
	DepartureTimeout uint32 `yaml:"departure_timeout"`
	// MaxParticipants caps participants per room; 0 means no limit.
	MaxParticipants uint32 `yaml:"max_participants"`
	// EnableRemoteUnmute lets MutePublishedTrack unmute a participant's track.
	EnableRemoteUnmute bool `yaml:"enable_remote_unmute"`
	// DuplicateIdentity decides what happens when an identity already in the room joins again:
	// "replace" (the newest connection wins, as LiveKit) or "reject" (the new one is refused).
	DuplicateIdentity string `yaml:"duplicate_identity"`
	// WaitingRoom holds participants at the door until a host admits them.
	WaitingRoom WaitingRoomConfig `yaml:"waiting_room"`
}

// MaxWaitingMessage bounds the message shown to waiting participants, in bytes.
const MaxWaitingMessage = 1024

// Waiting-room modes (room.waiting_room.mode).
const (
	// WaitAdmit: each waiting participant waits until someone admits or denies it.
	WaitAdmit = "admit"
	// WaitHostOpens: participants wait until the first host is present; the host's
	// arrival admits everyone waiting, in order, and opens the room for good.
	WaitHostOpens = "host_opens"
)

// WaitingRoomConfig configures the waiting room (Usher only; docs/waiting-room.md).
type WaitingRoomConfig struct {
	// Enabled makes every room wait: participants without a host preset
	// (accept_waiting_requests) or an admin token wait to be admitted. A preset's
	// waiting_room, or a backend's SetRoom, makes one room or preset wait without it.
	Enabled bool `yaml:"enabled"`
	// Mode is admit or host_opens.
	Mode string `yaml:"mode"`
	// Timeout ends a wait with USER_UNAVAILABLE after this long; 0 waits forever.
	Timeout time.Duration `yaml:"timeout"`
	// TakesSeat makes waiting participants count against max_participants.
	TakesSeat bool `yaml:"takes_seat"`
	// Message is shown to waiting participants (usher.waiting_message) until a host
	// sets another.
	Message string `yaml:"message"`
}

// LoggingConfig configures the server log.
type LoggingConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// JSON writes log lines as JSON objects instead of text.
	JSON bool `yaml:"json"`
}

// LimitConfig bounds every input the server accepts.
type LimitConfig struct {
	MaxMetadataSize              int `yaml:"max_metadata_size"`
	MaxAttributesSize            int `yaml:"max_attributes_size"`
	MaxRoomNameLength            int `yaml:"max_room_name_length"`
	MaxParticipantIdentityLength int `yaml:"max_participant_identity_length"`
	MaxParticipantNameLength     int `yaml:"max_participant_name_length"`
	// MaxRequestBodySize caps an HTTP request body, in bytes (Usher only).
	MaxRequestBodySize int64 `yaml:"max_request_body_size"`
}

// Duplicate identity policies.
const (
	DuplicateReplace = "replace"
	DuplicateReject  = "reject"
)

// Default returns the configuration used when nothing else is given.
func Default() *Config {
	return &Config{
		Port:    7880,
		DataDir: "usher-data",
		Auth:    AuthConfig{MaxTokenLifetime: 168 * time.Hour},
		RTC: RTCConfig{
			UDPPort:        7882,
			TCPPort:        7881,
			PortRangeStart: 50000,
			PortRangeEnd:   60000,
			STUNServers:    []string{"stun.l.google.com:19302", "stun1.l.google.com:19302"},
		},
		Room: RoomConfig{
			AutoCreate:        true,
			EmptyTimeout:      300,
			DepartureTimeout:  20,
			DuplicateIdentity: DuplicateReplace,
			WaitingRoom:       WaitingRoomConfig{Mode: WaitAdmit, Timeout: 30 * time.Minute},
		},
		Signal: SignalConfig{
			PingInterval:    5 * time.Second,
			PingTimeout:     15 * time.Second,
			ResumeWindow:    15 * time.Second,
			JoinTimeout:     30 * time.Second,
			RefreshInterval: 5 * time.Minute,
			TokenTTL:        10 * time.Minute,
			QueueSize:       1024,
			WriteTimeout:    10 * time.Second,

			MaxConnectionsPerIP:       512,
			MaxConnectionsPerIdentity: 4,
		},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		REST: RESTConfig{
			DefaultTokenTTL: 6 * time.Hour,
			MaxTokenTTL:     24 * time.Hour,
			Upstream:        UpstreamConfig{Timeout: 10 * time.Second},
		},
		Logging: LoggingConfig{Level: "info"},
		Audit:   AuditConfig{Enabled: true, Retention: 90 * 24 * time.Hour, QueueSize: 8192},
		Webhook: WebhookConfig{
			RetryFor:         24 * time.Hour,
			RetryMinInterval: time.Second,
			RetryMaxInterval: 5 * time.Minute,
			RequestTimeout:   10 * time.Second,
			QueueSize:        10000,
			MaxPending:       100000,
		},
		Limit: LimitConfig{
			MaxMetadataSize:              64000,
			MaxAttributesSize:            64000,
			MaxRoomNameLength:            256,
			MaxParticipantIdentityLength: 256,
			MaxParticipantNameLength:     256,
			MaxRequestBodySize:           10 << 20,
		},
	}
}

// ApplyDev sets the development defaults: the devkey/secret key pair when no key is
// configured, debug logging, and loopback binding when no address is given.
func (c *Config) ApplyDev() {
	c.Development = true
	if len(c.Keys) == 0 && c.KeyFile == "" {
		c.Keys = map[string]string{DevAPIKey: DevAPISecret}
	}
	if c.Logging.Level == "" || c.Logging.Level == "info" {
		c.Logging.Level = "debug"
	}
	if len(c.BindAddresses) == 0 {
		c.BindAddresses = []string{"127.0.0.1"}
	}
	c.RTC.EnableLoopbackCandidate = true
	c.REST.Enabled = true
}

// Validate checks the configuration and loads the key file. Every problem is reported,
// each with what to change.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if c.Port < 0 || c.Port > 65535 {
		add("port: %d is not a TCP port (0-65535)", c.Port)
	}
	for _, a := range c.BindAddresses {
		if a != "" && net.ParseIP(a) == nil {
			add("bind_addresses: %q is not an IP address", a)
		}
	}
	if c.RTC.UDPPort < 0 || c.RTC.UDPPort > 65535 {
		add("rtc.udp_port: %d is not a UDP port (0-65535)", c.RTC.UDPPort)
	}
	if c.RTC.TCPPort < 0 || c.RTC.TCPPort > 65535 {
		add("rtc.tcp_port: %d is not a TCP port (0-65535)", c.RTC.TCPPort)
	}
	if c.RTC.UDPPort == 0 {
		if c.RTC.PortRangeStart <= 0 || c.RTC.PortRangeEnd > 65535 || c.RTC.PortRangeStart > c.RTC.PortRangeEnd {
			add("rtc.port_range_start/port_range_end: %d-%d is not a valid UDP port range (set rtc.udp_port instead, or a range like 50000-60000)",
				c.RTC.PortRangeStart, c.RTC.PortRangeEnd)
		}
	}
	if n := len(c.RTC.TURNServers); n > MaxTURNServers {
		add("rtc.turn_servers: %d servers; at most %d", n, MaxTURNServers)
	}
	for i, ts := range c.RTC.TURNServers {
		if ts.Host == "" || strings.ContainsAny(ts.Host, "/?#@ ") {
			add("rtc.turn_servers[%d].host: %q is not a host name or address", i, ts.Host)
		}
		if ts.Port < 1 || ts.Port > 65535 {
			add("rtc.turn_servers[%d].port: %d is not a port (1-65535)", i, ts.Port)
		}
		switch ts.Protocol {
		case "udp", "tcp", "tls":
		default:
			add("rtc.turn_servers[%d].protocol: %q is not one of udp, tcp, tls", i, ts.Protocol)
		}
	}
	if c.RTC.NodeIP != "" && net.ParseIP(c.RTC.NodeIP) == nil {
		add("rtc.node_ip: %q is not an IP address", c.RTC.NodeIP)
	}
	if c.DataDir == "" {
		add("data_dir: must name a directory for durable state (default \"usher-data\")")
	}
	validatePresets(c.Presets, add)
	if c.RTC.UseExternalIP && len(c.RTC.STUNServers) == 0 {
		add("rtc.use_external_ip needs at least one rtc.stun_servers entry")
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"auth.max_token_lifetime", c.Auth.MaxTokenLifetime},
		{"signal.ping_interval", c.Signal.PingInterval},
		{"signal.ping_timeout", c.Signal.PingTimeout},
		{"signal.resume_window", c.Signal.ResumeWindow},
		{"signal.join_timeout", c.Signal.JoinTimeout},
		{"signal.refresh_interval", c.Signal.RefreshInterval},
		{"signal.token_ttl", c.Signal.TokenTTL},
		{"signal.write_timeout", c.Signal.WriteTimeout},
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout},
		{"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.write_timeout", c.HTTP.WriteTimeout},
		{"http.idle_timeout", c.HTTP.IdleTimeout},
	}
	for _, d := range durations {
		if d.v <= 0 {
			add("%s: must be a positive duration such as \"5s\" (got %s)", d.name, d.v)
		}
	}
	if c.Signal.PingTimeout > 0 && c.Signal.PingTimeout <= c.Signal.PingInterval {
		add("signal.ping_timeout (%s) must be longer than signal.ping_interval (%s)", c.Signal.PingTimeout, c.Signal.PingInterval)
	}
	if c.Signal.TokenTTL > 0 && c.Signal.TokenTTL <= c.Signal.RefreshInterval {
		add("signal.token_ttl (%s) must be longer than signal.refresh_interval (%s), or clients hold expired tokens", c.Signal.TokenTTL, c.Signal.RefreshInterval)
	}
	if c.Auth.MaxTokenLifetime > 0 && c.Signal.TokenTTL > c.Auth.MaxTokenLifetime {
		add("signal.token_ttl (%s) must not be longer than auth.max_token_lifetime (%s), or the server refuses its own tokens", c.Signal.TokenTTL, c.Auth.MaxTokenLifetime)
	}
	c.validateREST(add)
	c.validateAudit(add)
	if c.Signal.QueueSize < 16 {
		add("signal.queue_size: must be at least 16 (got %d)", c.Signal.QueueSize)
	}
	if c.Signal.MaxConnectionsPerIP < 1 {
		add("signal.max_connections_per_ip: must be at least 1 (got %d)", c.Signal.MaxConnectionsPerIP)
	}
	if c.Signal.MaxConnectionsPerIdentity < 2 {
		add("signal.max_connections_per_identity: must be at least 2, so a client can resume (got %d)", c.Signal.MaxConnectionsPerIdentity)
	}
	if c.HTTP.ReadHeaderTimeout > c.HTTP.ReadTimeout {
		add("http.read_header_timeout (%s) must not be longer than http.read_timeout (%s)", c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout)
	}
	switch c.Room.DuplicateIdentity {
	case DuplicateReplace, DuplicateReject:
	default:
		add("room.duplicate_identity: %q is not one of %q, %q", c.Room.DuplicateIdentity, DuplicateReplace, DuplicateReject)
	}
	if w := c.Room.WaitingRoom; w.Mode != WaitAdmit && w.Mode != WaitHostOpens {
		add("room.waiting_room.mode: %q is not one of %q, %q", w.Mode, WaitAdmit, WaitHostOpens)
	}
	if c.Room.WaitingRoom.Timeout < 0 {
		add("room.waiting_room.timeout: %s is negative", c.Room.WaitingRoom.Timeout)
	}
	if n := len(c.Room.WaitingRoom.Message); n > MaxWaitingMessage {
		add("room.waiting_room.message: %d bytes; at most %d", n, MaxWaitingMessage)
	}
	switch strings.ToLower(c.Logging.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		add("logging.level: %q is not one of debug, info, warn, error", c.Logging.Level)
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"limit.max_metadata_size", int64(c.Limit.MaxMetadataSize)},
		{"limit.max_attributes_size", int64(c.Limit.MaxAttributesSize)},
		{"limit.max_room_name_length", int64(c.Limit.MaxRoomNameLength)},
		{"limit.max_participant_identity_length", int64(c.Limit.MaxParticipantIdentityLength)},
		{"limit.max_participant_name_length", int64(c.Limit.MaxParticipantNameLength)},
		{"limit.max_request_body_size", c.Limit.MaxRequestBodySize},
	}
	for _, p := range positive {
		if p.v <= 0 {
			add("%s: must be greater than 0 (got %d)", p.name, p.v)
		}
	}

	if c.KeyFile != "" {
		if len(c.Keys) > 0 {
			add("keys and key_file are both set: use one of them")
		} else if keys, err := LoadKeyFile(c.KeyFile); err != nil {
			add("%v", err)
		} else {
			c.Keys = keys
		}
	}
	if len(c.Keys) == 0 {
		add("no API keys: set keys (config), --keys \"key: secret\" (or LIVEKIT_KEYS), or --key-file; create a pair with `usher generate-keys`, or start with --dev to use devkey/secret")
	}
	for _, k := range sortedKeys(c.Keys) {
		secret := c.Keys[k]
		switch {
		case k == "":
			add("keys: an API key is empty")
		case secret == "":
			add("keys: API key %q has an empty secret", k)
		case !c.Development && len(secret) < MinSecretLength:
			add("keys: the secret of API key %q is %d characters; at least %d are required outside --dev (create a strong pair with `usher generate-keys`)",
				k, len(secret), MinSecretLength)
		}
	}
	c.validateWebhook(add)

	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  - %s", ErrInvalid, strings.Join(problems, "\n  - "))
	}
	return nil
}

// LoadKeyFile reads a YAML file of "key: secret" pairs. The file must not be
// accessible by group or others, so a secret is never world-readable.
func LoadKeyFile(path string) (map[string]string, error) {
	return loadSecretFile("key_file", path)
}

// loadSecretFile reads a YAML map of secrets from a file only its owner can access.
func loadSecretFile(what, path string) (map[string]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: %s has mode %04o, which lets group or others read it; restrict it with `chmod 600 %s`", what, path, perm, path)
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names this file in the configuration
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	m, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return m, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateREST checks the REST gateway settings and loads its token file.
func (c *Config) validateREST(add func(string, ...any)) {
	r := &c.REST
	if r.TokenFile != "" {
		tokens, err := loadSecretFile("rest.token_file", r.TokenFile)
		if err != nil {
			add("%v", err)
		}
		if r.Tokens == nil {
			r.Tokens = map[string]string{}
		}
		for k, v := range tokens {
			r.Tokens[k] = v
		}
	}
	for tok, id := range r.Tokens {
		switch {
		case tok == "":
			add("rest.tokens: a token is empty")
		case id == "":
			add("rest.tokens: a token has no auth id")
		case !c.Development && len(tok) < 16:
			add("rest.tokens: a token of auth id %q is %d characters; at least 16 are required outside --dev", id, len(tok))
		}
	}
	if !r.Enabled {
		return
	}
	if r.AuthRequired && len(r.Tokens) == 0 {
		add("rest.auth_required is on but rest.tokens is empty: nobody could use the gateway")
	}
	if r.DefaultTokenTTL <= 0 || r.MaxTokenTTL <= 0 || r.DefaultTokenTTL > r.MaxTokenTTL {
		add("rest.default_token_ttl (%s) must be positive and at most rest.max_token_ttl (%s)", r.DefaultTokenTTL, r.MaxTokenTTL)
	}
	if c.Auth.MaxTokenLifetime > 0 && r.MaxTokenTTL > c.Auth.MaxTokenLifetime && r.Upstream.URL == "" {
		add("rest.max_token_ttl (%s) must not be longer than auth.max_token_lifetime (%s), or the gateway issues tokens the server refuses", r.MaxTokenTTL, c.Auth.MaxTokenLifetime)
	}
	if r.LiveKitURL != "" && !strings.HasPrefix(r.LiveKitURL, "ws://") && !strings.HasPrefix(r.LiveKitURL, "wss://") &&
		!strings.HasPrefix(r.LiveKitURL, "http://") && !strings.HasPrefix(r.LiveKitURL, "https://") {
		add("rest.livekit_url: %q must start with ws://, wss://, http:// or https://", r.LiveKitURL)
	}
	for _, o := range r.CORSOrigins {
		if o == "*" {
			if !r.AuthRequired {
				add("rest.cors_origins: \"*\" lets every web page use a gateway that needs no API token; list origins, or turn on rest.auth_required")
			}
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			add("rest.cors_origins: %q is not an origin such as \"https://app.example.com\"", o)
		}
	}
	u := r.Upstream
	if u.URL != "" || u.APIKey != "" || u.APISecret != "" {
		if u.URL == "" || u.APIKey == "" || u.APISecret == "" {
			add("rest.upstream needs url, api_key and api_secret together")
		}
		if u.Timeout <= 0 {
			add("rest.upstream.timeout: must be a positive duration")
		}
		return
	}
	if r.APIKey != "" {
		if _, ok := c.Keys[r.APIKey]; !ok {
			add("rest.api_key %q is not one of the configured keys", r.APIKey)
		}
	} else if len(c.Keys) > 1 {
		add("rest.api_key: several API keys are configured; name the one that signs the gateway's join tokens")
	}
}

// validateAudit checks the audit log settings.
func (c *Config) validateAudit(add func(string, ...any)) {
	a := c.Audit
	if a.Retention < 0 || (a.Retention > 0 && a.Retention < time.Hour) {
		add("audit.retention: must be at least 1h, or 0 to keep records until audit.max_records (got %s)", a.Retention)
	}
	if a.MaxRecords < 0 {
		add("audit.max_records: must be 0 (no cap) or more (got %d)", a.MaxRecords)
	}
	if a.QueueSize < 16 || a.QueueSize > 1<<20 {
		add("audit.queue_size: must be between 16 and 1048576 (got %d)", a.QueueSize)
	}
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const strongSecret = "0123456789abcdef0123456789abcdef"

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Port != 7880 || c.RTC.TCPPort != 7881 || c.RTC.UDPPort != 7882 {
		t.Errorf("ports = %d/%d/%d", c.Port, c.RTC.TCPPort, c.RTC.UDPPort)
	}
	if !c.Room.AutoCreate || c.Room.EmptyTimeout != 300 || c.Room.DepartureTimeout != 20 || c.Room.MaxParticipants != 0 || c.Room.EnableRemoteUnmute {
		t.Errorf("room defaults = %+v", c.Room)
	}
	if c.Limit.MaxRequestBodySize != 10<<20 {
		t.Errorf("body limit = %d", c.Limit.MaxRequestBodySize)
	}
}

func TestMergeLiveKitStyleConfig(t *testing.T) {
	c := Default()
	warnings, err := Merge(c, []byte(`
port: 9000
bind_addresses: ["127.0.0.1", "::1"]
keys:
  APIabc: `+strongSecret+`
rtc:
  udp_port: 9002
  tcp_port: 9001
  node_ip: 10.0.0.5
  use_external_ip: false
  use_ice_lite: true
redis:
  address: localhost:6379
room:
  auto_create: false
  empty_timeout: 60
  departure_timeout: 5
  max_participants: 100
  enable_remote_unmute: true
logging:
  level: debug
  pion_level: warn
limit:
  max_metadata_size: 1000
`))
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if c.Port != 9000 || len(c.BindAddresses) != 2 || c.Keys["APIabc"] != strongSecret {
		t.Errorf("top level = %d %v %v", c.Port, c.BindAddresses, c.Keys)
	}
	if c.RTC.UDPPort != 9002 || c.RTC.TCPPort != 9001 || c.RTC.NodeIP != "10.0.0.5" {
		t.Errorf("rtc = %+v", c.RTC)
	}
	if c.Room.AutoCreate || c.Room.EmptyTimeout != 60 || c.Room.DepartureTimeout != 5 || c.Room.MaxParticipants != 100 || !c.Room.EnableRemoteUnmute {
		t.Errorf("room = %+v", c.Room)
	}
	if c.Logging.Level != "debug" || c.Limit.MaxMetadataSize != 1000 || c.Limit.MaxRoomNameLength != 256 {
		t.Errorf("logging/limit = %+v %+v", c.Logging, c.Limit)
	}
	want := []string{"rtc.use_ice_lite", "redis", "logging.pion_level"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q", warnings)
	}
	for i, w := range want {
		if !strings.Contains(warnings[i], `"`+w+`"`) {
			t.Errorf("warning %d = %q, want it to name %s", i, warnings[i], w)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestUnknownKeysAreErrorsNamingTheKey(t *testing.T) {
	cases := map[string]string{
		"port: 1\nprot: 2\n":                   `unknown key "prot" (line 2); did you mean "port"?`,
		"rtc:\n  udp_prot: 7882\n":             `unknown key "rtc.udp_prot" (line 2); did you mean "rtc.udp_port"?`,
		"room:\n  totally_new_thing: 1\n":      `unknown key "room.totally_new_thing" (line 2)`,
		"port: abc\n":                          `port (line 1): expected a whole number, got "abc"`,
		"room:\n  empty_timeout: -5\n":         `room.empty_timeout (line 2): expected a whole number >= 0, got "-5"`,
		"room:\n  auto_create: maybe\n":        `room.auto_create (line 2): expected true or false, got "maybe"`,
		"rtc: 5\n":                             `rtc (line 1): expected a mapping of keys`,
		"keys: [a, b]\n":                       `keys (line 1): expected a mapping, got a list`,
		"port: [1\n":                           `not valid YAML`,
		"- a\n":                                `top level (line 1): expected a mapping of keys`,
		"logging:\n  level: 1\n  lvl: debug\n": `unknown key "logging.lvl"`,
	}
	for in, want := range cases {
		_, err := Merge(Default(), []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Merge(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestEmptyDocument(t *testing.T) {
	c := Default()
	if _, err := Merge(c, []byte("# nothing\n")); err != nil || c.Port != 7880 {
		t.Errorf("empty document: %v, port %d", err, c.Port)
	}
}

func TestValidate(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Keys = map[string]string{"APIk": strongSecret}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Keys = map[string]string{"APIk": "short"} }, "`usher generate-keys`"},
		{func(c *Config) { c.Keys = map[string]string{"APIk": "short"} }, "is 5 characters; at least 32"},
		{func(c *Config) { c.Keys = nil }, "no API keys"},
		{func(c *Config) { c.Keys = map[string]string{"APIk": ""} }, "empty secret"},
		{func(c *Config) { c.Port = 70000 }, "port: 70000"},
		{func(c *Config) { c.BindAddresses = []string{"localhost"} }, `bind_addresses: "localhost" is not an IP`},
		{func(c *Config) { c.RTC.NodeIP = "x" }, "rtc.node_ip"},
		{func(c *Config) { c.RTC.UDPPort = 0; c.RTC.PortRangeStart = 10; c.RTC.PortRangeEnd = 5 }, "port_range"},
		{func(c *Config) { c.Room.DuplicateIdentity = "kick" }, "room.duplicate_identity"},
		{func(c *Config) {
			c.RTC.TURNServers = []TURNServer{{Host: "turn.example", Port: 3478, Protocol: "sctp"}}
		}, "rtc.turn_servers[0].protocol"},
		{func(c *Config) { c.RTC.TURNServers = []TURNServer{{Host: "turn.example", Port: 0, Protocol: "udp"}} }, "rtc.turn_servers[0].port"},
		{func(c *Config) { c.RTC.TURNServers = []TURNServer{{Host: "a b", Port: 3478, Protocol: "udp"}} }, "rtc.turn_servers[0].host"},
		{func(c *Config) { c.Room.WaitingRoom.Mode = "lottery" }, "room.waiting_room.mode"},
		{func(c *Config) { c.Logging.Level = "loud" }, "logging.level"},
		{func(c *Config) { c.Limit.MaxRequestBodySize = 0 }, "limit.max_request_body_size"},
		{func(c *Config) { c.KeyFile = "/x" }, "keys and key_file are both set"},
		{func(c *Config) { c.Auth.MaxTokenLifetime = 0 }, "auth.max_token_lifetime: must be a positive duration"},
		{func(c *Config) { c.Auth.MaxTokenLifetime = 5 * time.Minute }, "signal.token_ttl (10m0s) must not be longer than auth.max_token_lifetime (5m0s)"},
	}
	for _, tc := range cases {
		c := base()
		tc.mut(c)
		err := c.Validate()
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
		}
	}

	// Development mode accepts the short dev secret.
	c := base()
	c.Keys = nil
	c.ApplyDev()
	if err := c.Validate(); err != nil || c.Keys[DevAPIKey] != DevAPISecret || c.BindAddresses[0] != "127.0.0.1" || c.Logging.Level != "debug" {
		t.Errorf("dev config: %v %+v", err, c)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(path, []byte("APIone: "+strongSecret+"\nAPItwo: "+strongSecret+"x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.KeyFile = path
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(c.Keys) != 2 || c.Keys["APItwo"] != strongSecret+"x" {
		t.Errorf("keys = %v", c.Keys)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	c = Default()
	c.KeyFile = path
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}

	c = Default()
	c.KeyFile = filepath.Join(dir, "missing.yaml")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "key_file") {
		t.Errorf("missing key file: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	k, err := ParseKeys("APIa: s1\nAPIb: s2")
	if err != nil || k["APIa"] != "s1" || k["APIb"] != "s2" {
		t.Errorf("ParseKeys = %v %v", k, err)
	}
	for _, bad := range []string{"just-a-key", "APIa:", ": : :"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) should fail", bad)
		}
	}
}

func TestLoadFileAndBody(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usher.yaml")
	if err := os.WriteFile(path, []byte("port: 7000\nroom:\n  empty_timeout: 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(LoadOptions{File: path, Body: "port: 7001\n"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7001 || c.Room.EmptyTimeout != 10 {
		t.Errorf("body should override file: port %d empty %d", c.Port, c.Room.EmptyTimeout)
	}
	_, _, err = Load(LoadOptions{File: path, Body: "bogus: 1\n"})
	if err == nil || !strings.Contains(err.Error(), "config body") || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("bad body: %v", err)
	}
	_, _, err = Load(LoadOptions{File: filepath.Join(dir, "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "config file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidateREST(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Keys = map[string]string{"APIk": strongSecret}
		c.REST.Enabled = true
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("open gateway: %v", err)
	}
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.REST.AuthRequired = true }, "rest.tokens is empty"},
		{func(c *Config) { c.REST.Tokens = map[string]string{"short": "t1"} }, "at least 16"},
		{func(c *Config) { c.REST.Tokens = map[string]string{"0123456789abcdef": ""} }, "no auth id"},
		{func(c *Config) { c.REST.Upstream.URL = "http://x" }, "url, api_key and api_secret together"},
		{func(c *Config) { c.Keys["APIother"] = strongSecret }, "several API keys"},
		{func(c *Config) { c.REST.APIKey = "APInope" }, `"APInope" is not one of the configured keys`},
		{func(c *Config) { c.REST.LiveKitURL = "example.com" }, "must start with"},
		{func(c *Config) { c.REST.DefaultTokenTTL = 48 * time.Hour }, "at most rest.max_token_ttl"},
		{func(c *Config) { c.Auth.MaxTokenLifetime = 12 * time.Hour }, "rest.max_token_ttl (24h0m0s) must not be longer than auth.max_token_lifetime (12h0m0s)"},
	}
	for _, tc := range cases {
		c := base()
		tc.mut(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(path, []byte("tenant-token-0123456789: tenant-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := base()
	c.REST.TokenFile = path
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "rest.token_file") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable token file: %v", err)
	}
	_ = os.Chmod(path, 0o600)
	c = base()
	c.REST.TokenFile = path
	c.REST.AuthRequired = true
	if err := c.Validate(); err != nil || c.REST.Tokens["tenant-token-0123456789"] != "tenant-a" {
		t.Errorf("token file: %v %v", err, c.REST.Tokens)
	}
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxConfigSize bounds a config file or body.
const maxConfigSize = 1 << 20

// maxReportedErrors bounds the problems one load reports, and maxQuoted the bytes of a
// key or value quoted in a message, so a hostile document is never echoed back whole.
const (
	maxReportedErrors = 20
	maxQuoted         = 100
)

// short bounds s for quoting in a message.
func short(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "…"
}

// livekitOnly lists livekit-server settings Usher accepts in a config file but does not
// use, so an existing livekit.yaml loads with a warning instead of an error. A listed
// path covers everything below it.
var livekitOnly = map[string]bool{
	"prometheus_port": true, "prometheus": true, "redis": true, "audio": true, "video": true,
	"turn": true, "ingress": true, "webhook.url_notifier": true, "webhook.resource_url_notifier": true,
	"signal_relay": true, "psrpc": true,
	"region": true, "node_selector": true, "key_file_watch": true, "debug": true,
	"node_stats_config": true, "agents": true, "egress": true, "sip": true, "metric": true,
	"rtc.use_ice_lite": true,
	"rtc.interfaces":   true, "rtc.ips": true,
	"rtc.allow_tcp_fallback": true, "rtc.packet_buffer_size": true, "rtc.packet_buffer_size_video": true,
	"rtc.packet_buffer_size_audio": true, "rtc.congestion_control": true, "rtc.strict_acks": true,
	"rtc.use_mdns": true, "rtc.pli_throttle": true, "rtc.min_packet_buffer_size": true,
	"rtc.max_packet_buffer_size": true, "rtc.batch_io": true, "rtc.reconnect_on_publication_error": true,
	"rtc.reconnect_on_subscription_error": true, "rtc.reconnect_on_data_channel_error": true,
	"rtc.data_channel_max_buffered_amount": true, "rtc.forward_stats": true, "rtc.skip_tcp_fallback": true,
	"room.enabled_codecs": true, "room.playout_delay": true, "room.sync_streams": true,
	"room.max_metadata_size": true, "room.create_room_enabled": true, "room.create_room_timeout": true,
	"room.create_room_attempts": true, "room.max_room_name_length": true, "room.enable_data_tracks": true,
	"logging.sample": true, "logging.pion_level": true, "logging.component_levels": true,
	"logging.deferred": true,
	"limit.num_tracks": true, "limit.bytes_per_sec": true, "limit.subscription_limit_video": true,
	"limit.subscription_limit_audio": true, "limit.max_buffered_amount": true,
}

// LoadOptions says where configuration comes from, in increasing precedence after
// the defaults: a file, a YAML body (--config-body / LIVEKIT_CONFIG).
type LoadOptions struct {
	File string
	Body string
}

// Load builds a Config from the defaults, then the file, then the body. It returns the
// warnings worth logging (LiveKit settings Usher ignores). It does not validate.
func Load(opts LoadOptions) (*Config, []string, error) {
	cfg := Default()
	var warnings []string
	if opts.File != "" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: config file: %w", ErrInvalid, err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
		_ = f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: config file %s: %w", ErrInvalid, opts.File, err)
		}
		w, err := Merge(cfg, data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: config file %s: %w", ErrInvalid, opts.File, err)
		}
		warnings = append(warnings, w...)
	}
	if opts.Body != "" {
		w, err := Merge(cfg, []byte(opts.Body))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: config body: %w", ErrInvalid, err)
		}
		warnings = append(warnings, w...)
	}
	return cfg, warnings, nil
}

// Merge decodes YAML into cfg strictly: a key Usher does not know is an error naming its
// full path; a known livekit-server key Usher does not use is a warning.
func Merge(cfg *Config, data []byte) ([]string, error) {
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty document
		}
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	d := &decoder{}
	d.decode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	if len(d.errs) > maxReportedErrors {
		d.errs = append(d.errs[:maxReportedErrors], fmt.Sprintf("and %d more problems", len(d.errs)-maxReportedErrors))
	}
	if len(d.errs) > 0 {
		return nil, errors.New(strings.Join(d.errs, "; "))
	}
	return d.warnings, nil
}

type decoder struct {
	errs     []string
	warnings []string
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Kind() != reflect.Struct {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errs = append(d.errs, fmt.Sprintf("%s (line %d): %s", path, n.Line, describeTypeError(n, v)))
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "top level"
		}
		d.errs = append(d.errs, fmt.Sprintf("%s (line %d): expected a mapping of keys", where, n.Line))
		return
	}
	fields := yamlFields(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		full := join(path, short(k.Value))
		idx, ok := fields[k.Value]
		if !ok {
			if livekitOnly[full] {
				d.warnings = append(d.warnings, fmt.Sprintf("config key %q is a livekit-server setting Usher does not use; ignored", full))
				continue
			}
			msg := fmt.Sprintf("unknown key %q (line %d)", full, k.Line)
			if s := suggest(k.Value, fields); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", join(path, s))
			}
			d.errs = append(d.errs, msg)
			continue
		}
		d.decode(val, v.Field(idx), full)
	}
}

func describeTypeError(n *yaml.Node, v reflect.Value) string {
	want := v.Kind().String()
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		return fmt.Sprintf("expected a duration such as \"5s\" or \"2m\", got %q", short(n.Value))
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64, reflect.Uint:
		want = "a whole number"
		if v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64 {
			want = "a whole number >= 0"
		}
	case reflect.Bool:
		want = "true or false"
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		want = "a list"
	case reflect.Map:
		want = "a mapping"
	}
	got := short(n.Value)
	if n.Kind != yaml.ScalarNode {
		got = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[n.Kind]
		return fmt.Sprintf("expected %s, got %s", want, got)
	}
	return fmt.Sprintf("expected %s, got %q", want, got)
}

func yamlFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}

// suggest returns the known key closest to key, if it is close enough to be a typo.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParseKeys parses API keys given as YAML "key: secret" pairs, one per line, as
// LIVEKIT_KEYS and --keys take them.
func ParseKeys(s string) (map[string]string, error) {
	if len(s) > maxConfigSize {
		return nil, fmt.Errorf("keys: larger than %d bytes", maxConfigSize)
	}
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, errors.New(`keys must be "key: secret" pairs, one per line`)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch sv := v.(type) {
		case string:
			out[k] = sv
		case nil:
			return nil, fmt.Errorf("API key %q has no secret", k)
		default:
			out[k] = fmt.Sprint(sv)
		}
	}
	return out, nil
}

package config

import (
	"testing"
)

// FuzzMerge feeds arbitrary documents to the strict YAML loader. Properties: it never
// panics; an error names what was wrong in a bounded message (a hostile file is not
// echoed back whole); a document that loads also validates or fails validation without
// panicking; loading the same document twice gives the same result.
func FuzzMerge(f *testing.F) {
	f.Add("port: 7880\nkeys:\n  APIkey: secret-secret-secret-secret-secret\n")
	f.Add("rtc:\n  udp_port: 7882\n  node_ip: 10.0.0.1\nroom:\n  auto_create: false\n")
	f.Add("signal:\n  ping_interval: 5s\n  ping_timeout: 1s\n")
	f.Add("rest:\n  enabled: true\n  cors_origins: ['https://app.example.com', '*']\n")
	f.Add("redis:\n  address: x\nprot: 1\n")
	f.Add("a: &a [*a, *a]\nb: *a\n")
	f.Add("http: {read_timeout: 1h, write_timeout: -5s}\nlimit: {max_metadata_size: 0}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg := Default()
		_, err := Merge(cfg, []byte(doc))
		if err != nil {
			// At most 20 problems, each quoting at most a few hundred bytes; a YAML
			// syntax error quotes one short token.
			if n := len(err.Error()); n > 16<<10 {
				t.Fatalf("a %d-byte document gave a %d-byte error", len(doc), n)
			}
			return
		}
		again := Default()
		if _, err := Merge(again, []byte(doc)); err != nil {
			t.Fatalf("the second load of the same document failed: %v", err)
		}
		cfg.KeyFile, cfg.REST.TokenFile = "", "" // no file access from a fuzz input
		_ = cfg.Validate()
	})
}

package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookLiveKitKeys(t *testing.T) {
	c := Default()
	warnings, err := Merge(c, []byte(`
keys:
  APIa: `+strongSecret+`
  APIb: `+strongSecret+`
webhook:
  api_key: APIb
  urls:
    - https://hooks.example.com/livekit
  moderation_urls: ["https://audit.example.com/usher?token=s3cret"]
  filter_params:
    exclude_events: [track_published]
  url_notifier:
    num_workers: 4
  retry_for: 2h
  max_pending: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "webhook.url_notifier") {
		t.Errorf("warnings %q", warnings)
	}
	w := c.Webhook
	if !w.Enabled() || len(w.URLs) != 1 || len(w.ModerationURLs) != 1 || w.APIKey != "APIb" || w.RetryFor != 2*time.Hour ||
		w.MaxPending != 50 || w.QueueSize != 10000 || w.FilterParams.ExcludeEvents[0] != "track_published" {
		t.Errorf("webhook %+v", w)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.WebhookKey() != "APIb" {
		t.Errorf("signing key %q", c.WebhookKey())
	}
}

func TestValidateWebhook(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Keys = map[string]string{"APIa": strongSecret}
		return c
	}
	// The only key signs by default.
	c := base()
	c.Webhook.URLs = []string{"http://127.0.0.1:9/x"}
	if err := c.Validate(); err != nil || c.WebhookKey() != "APIa" {
		t.Errorf("one key: %v %q", err, c.WebhookKey())
	}
	for name, tc := range map[string]struct {
		mod  func(c *Config)
		want string
	}{
		"unknown key":  {func(c *Config) { c.Webhook.URLs = []string{"https://h/"}; c.Webhook.APIKey = "nope" }, `webhook.api_key "nope"`},
		"several keys": {func(c *Config) { c.Webhook.URLs = []string{"https://h/"}; c.Keys["APIb"] = strongSecret }, "several API keys"},
		"not http":     {func(c *Config) { c.Webhook.URLs = []string{"ftp://h/x"} }, "webhook.urls[0]: not an http"},
		"no host":      {func(c *Config) { c.Webhook.ModerationURLs = []string{"https:///x"} }, "webhook.moderation_urls[0]"},
		"duplicate": {func(c *Config) {
			c.Webhook.URLs = []string{"https://h/"}
			c.Webhook.ModerationURLs = []string{"https://h/"}
		}, "the same URL as webhook.urls[0]"},
		"too long":      {func(c *Config) { c.Webhook.URLs = []string{"https://h/" + strings.Repeat("a", MaxWebhookURLLength)} }, "longer than"},
		"too many":      {func(c *Config) { c.Webhook.URLs = make([]string, MaxWebhookURLs+1) }, "at most 32"},
		"retry_for":     {func(c *Config) { c.Webhook.RetryFor = 0 }, "webhook.retry_for"},
		"intervals":     {func(c *Config) { c.Webhook.RetryMinInterval = time.Hour }, "webhook.retry_min_interval (1h0m0s) must not be longer"},
		"queue":         {func(c *Config) { c.Webhook.QueueSize = 1 }, "webhook.queue_size"},
		"pending":       {func(c *Config) { c.Webhook.MaxPending = 0 }, "webhook.max_pending"},
		"empty event":   {func(c *Config) { c.Webhook.FilterParams.IncludeEvents = []string{""} }, "include_events"},
		"timeout":       {func(c *Config) { c.Webhook.RequestTimeout = -time.Second }, "webhook.request_timeout"},
		"no secret url": {func(c *Config) { c.Webhook.URLs = []string{"gopher://u:hunter2@h/"} }, "webhook.urls[0]"},
	} {
		c := base()
		tc.mod(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error repeats a URL's credentials: %v", name, err)
		}
	}
}

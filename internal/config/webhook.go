package config

import (
	"net/url"
	"strconv"
	"time"
)

// Bounds of the webhook settings.
const (
	// MaxWebhookURLs bounds webhook.urls and webhook.moderation_urls together.
	MaxWebhookURLs = 32
	// MaxWebhookURLLength bounds one webhook URL, in bytes.
	MaxWebhookURLLength = 2048
)

// validateWebhook checks the webhook settings. It runs after the keys are loaded.
// Messages name a URL by its position, never by its text: a URL may carry a
// receiver's credentials.
func (c *Config) validateWebhook(add func(string, ...any)) {
	w := &c.Webhook
	seen := map[string]string{}
	check := func(list string, urls []string) {
		for i, u := range urls {
			name := list + "[" + strconv.Itoa(i) + "]"
			if len(u) > MaxWebhookURLLength {
				add("%s: longer than %d bytes", name, MaxWebhookURLLength)
				continue
			}
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Fragment != "" {
				add("%s: not an http:// or https:// URL (without a #fragment)", name)
				continue
			}
			if prev, dup := seen[u]; dup {
				add("%s: the same URL as %s; list each URL once (a URL in webhook.moderation_urls gets LiveKit's events too)", name, prev)
				continue
			}
			seen[u] = name
		}
	}
	check("webhook.urls", w.URLs)
	check("webhook.moderation_urls", w.ModerationURLs)
	if n := len(w.URLs) + len(w.ModerationURLs); n > MaxWebhookURLs {
		add("webhook.urls and webhook.moderation_urls: %d URLs; at most %d are allowed", n, MaxWebhookURLs)
	}
	for _, f := range []struct {
		name   string
		events []string
	}{{"webhook.filter_params.include_events", w.FilterParams.IncludeEvents}, {"webhook.filter_params.exclude_events", w.FilterParams.ExcludeEvents}} {
		if len(f.events) > 256 {
			add("%s: %d names; at most 256 are allowed", f.name, len(f.events))
		}
		for _, e := range f.events {
			if e == "" || len(e) > 64 {
				add("%s: %q is not an event name", f.name, short(e))
			}
		}
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"webhook.retry_for", w.RetryFor},
		{"webhook.retry_min_interval", w.RetryMinInterval},
		{"webhook.retry_max_interval", w.RetryMaxInterval},
		{"webhook.request_timeout", w.RequestTimeout},
	}
	for _, d := range durations {
		if d.v <= 0 {
			add("%s: must be a positive duration such as \"5s\" (got %s)", d.name, d.v)
		}
	}
	if w.RetryMinInterval > w.RetryMaxInterval {
		add("webhook.retry_min_interval (%s) must not be longer than webhook.retry_max_interval (%s)", w.RetryMinInterval, w.RetryMaxInterval)
	}
	if w.QueueSize < 16 || w.QueueSize > 1_000_000 {
		add("webhook.queue_size: must be between 16 and 1000000 (got %d)", w.QueueSize)
	}
	if w.MaxPending < 1 || w.MaxPending > 100_000_000 {
		add("webhook.max_pending: must be between 1 and 100000000 (got %d)", w.MaxPending)
	}
	if w.APIKey != "" {
		if _, ok := c.Keys[w.APIKey]; !ok {
			add("webhook.api_key %q is not one of the configured keys", short(w.APIKey))
		}
	} else if w.Enabled() && len(c.Keys) > 1 {
		add("webhook.api_key: several API keys are configured; name the one whose secret signs the webhooks")
	}
}

// WebhookKey returns the API key that signs webhooks: webhook.api_key, or the only
// configured key.
func (c *Config) WebhookKey() string {
	if c.Webhook.APIKey != "" {
		return c.Webhook.APIKey
	}
	for k := range c.Keys {
		return k
	}
	return ""
}

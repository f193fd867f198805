package server

import (
	"log/slog"

	lkwebhook "github.com/livekit/protocol/webhook"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/events"
	"github.com/usher-rtc/usher/internal/store"
	"github.com/usher-rtc/usher/internal/webhook"
)

// startWebhooks starts the webhook sender over the bus and the store's outbox, or
// returns nil when no webhook URL is configured.
func startWebhooks(cfg *config.Config, st *store.Store, bus *events.Bus, log *slog.Logger) (*webhook.Sender, error) {
	wc := cfg.Webhook
	if !wc.Enabled() {
		return nil, nil
	}
	var eps []webhook.Endpoint
	for _, u := range wc.URLs {
		eps = append(eps, webhook.Endpoint{URL: u})
	}
	for _, u := range wc.ModerationURLs {
		eps = append(eps, webhook.Endpoint{URL: u, Moderation: true})
	}
	key := cfg.WebhookKey()
	return webhook.Start(webhook.Options{
		Endpoints:        eps,
		Filter:           lkwebhook.FilterParams{IncludeEvents: wc.FilterParams.IncludeEvents, ExcludeEvents: wc.FilterParams.ExcludeEvents},
		APIKey:           key,
		APISecret:        cfg.Keys[key],
		RetryFor:         wc.RetryFor,
		RetryMinInterval: wc.RetryMinInterval,
		RetryMaxInterval: wc.RetryMaxInterval,
		RequestTimeout:   wc.RequestTimeout,
		QueueSize:        wc.QueueSize,
		MaxPending:       wc.MaxPending,
		Outbox:           st,
		Bus:              bus,
		Logger:           log.With("component", "webhook"),
	})
}

package twirpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/events"
)

// maxTwirpTimeout caps the X-Twirp-Timeout-Ms a client may ask for.
const maxTwirpTimeout = 5 * time.Minute

// HandlerOptions configures the Twirp HTTP handler.
type HandlerOptions struct {
	// Verifier checks access tokens.
	Verifier *auth.Verifier
	// MaxBodySize caps request bodies, in bytes.
	MaxBodySize int64
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
}

// NewHandler serves svc at /twirp/livekit.RoomService/: it verifies the access token,
// bounds the body, honours X-Twirp-Timeout-Ms, and maps every error through apierr.
func NewHandler(svc livekit.RoomService, opts HandlerOptions) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hooks := &twirp.ServerHooks{
		Error: func(ctx context.Context, err twirp.Error) context.Context {
			if err.Code() == twirp.Internal {
				m, _ := twirp.MethodName(ctx)
				log.Error("twirp internal error", "method", m, "error", err)
			}
			return ctx
		},
	}
	server := livekit.NewRoomServiceServer(svc,
		twirp.WithServerInterceptors(mapErrors(log)),
		twirp.WithServerHooks(hooks),
	)
	return &handler{next: server, opts: opts}
}

// mapErrors is the one adapter that turns a method's error into a Twirp error.
func mapErrors(log *slog.Logger) twirp.Interceptor {
	return func(next twirp.Method) twirp.Method {
		return func(ctx context.Context, req any) (any, error) {
			resp, err := next(ctx, req)
			if err != nil {
				if _, known := apierr.Lookup(err); !known {
					m, _ := twirp.MethodName(ctx)
					log.Error("unexpected error", "method", m, "error", err)
				}
				return resp, apierr.Twirp(err)
			}
			return resp, nil
		}
	}
}

type handler struct {
	next http.Handler
	opts HandlerOptions
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		apierr.WriteTwirp(w, fmt.Errorf("%w: %s is not allowed; Twirp methods take POST", apierr.ErrBadRoute, r.Method))
		return
	}
	if ms := r.Header.Get("X-Twirp-Timeout-Ms"); ms != "" {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n <= 0 {
			apierr.WriteTwirp(w, fmt.Errorf("%w: X-Twirp-Timeout-Ms must be a positive number of milliseconds", apierr.ErrMalformed))
			return
		}
		d := min(time.Duration(n)*time.Millisecond, maxTwirpTimeout)
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if err := h.limitBody(r); err != nil {
		apierr.WriteTwirp(w, err)
		return
	}
	raw, err := auth.FromRequest(r)
	if err != nil {
		apierr.WriteTwirp(w, err)
		return
	}
	claims, err := h.opts.Verifier.Verify(raw)
	if err != nil {
		apierr.WriteTwirp(w, err)
		return
	}
	ctx := auth.NewContext(r.Context(), claims)
	ctx = events.NewContext(ctx, actorOf(claims, r))
	h.next.ServeHTTP(w, r.WithContext(ctx))
}

// limitBody refuses a body larger than the limit: at once when Content-Length says so,
// otherwise after reading at most limit+1 bytes.
func (h *handler) limitBody(r *http.Request) error {
	limit := h.opts.MaxBodySize
	tooLarge := fmt.Errorf("%w: the limit is %d bytes", apierr.ErrBodyTooLarge, limit)
	if r.ContentLength > limit {
		return tooLarge
	}
	if r.ContentLength >= 0 {
		// net/http never reads past a declared Content-Length.
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return fmt.Errorf("%w: the body could not be read", apierr.ErrMalformed)
	}
	if int64(len(data)) > limit {
		return tooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return nil
}

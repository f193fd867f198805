package rest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/usher-rtc/usher/internal/api/twirp"
	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/room"
)

// Upstream returns the RoomService of a remote LiveKit-compatible server, reached
// through the official SDK's Twirp client (which signs each call with the grants it
// needs). Its errors are translated: an unreachable or silent upstream becomes
// UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT, never a hang; not_found is left for the
// endpoint to name.
func Upstream(serverURL, apiKey, apiSecret string, timeout time.Duration) livekit.RoomService {
	client := lksdk.NewRoomServiceClient(serverURL, apiKey, apiSecret)
	return upstream{c: client, timeout: timeout}
}

type upstream struct {
	c       *lksdk.RoomServiceClient
	timeout time.Duration
}

var _ livekit.RoomService = upstream{}

// call runs one upstream call with the gateway's timeout and translates its error.
func call[T any](u upstream, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	res, err := f(lksdk.WithFailover(ctx, false))
	if err != nil {
		var zero T
		return zero, translate(ctx, err)
	}
	return res, nil
}

// translate maps a Twirp client error to the catalogue's typed errors.
func translate(ctx context.Context, err error) error {
	var urlErr *url.Error
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return fmt.Errorf("%w: no answer in time", apierr.ErrUpstreamTimeout)
	}
	var te twirp.Error
	if errors.As(err, &te) {
		if te.Code() == twirp.Internal && (errors.As(err, &urlErr) || errors.As(err, &netErr)) {
			return fmt.Errorf("%w: %s", apierr.ErrUpstreamUnavailable, describeNetError(err))
		}
		msg := te.Msg()
		switch te.Code() {
		case twirp.NotFound:
			return fmt.Errorf("%w: %s", ErrUpstreamNotFound, msg)
		case twirp.InvalidArgument, twirp.Malformed, twirp.OutOfRange:
			return fmt.Errorf("%w: %s", room.ErrInvalidArgument, msg)
		case twirp.FailedPrecondition:
			return fmt.Errorf("%w: %s", room.ErrRemoteUnmuteDisabled, msg)
		case twirp.AlreadyExists:
			return fmt.Errorf("%w: %s", room.ErrDuplicateIdentity, msg)
		case twirp.ResourceExhausted:
			return fmt.Errorf("%w: %s", room.ErrRoomFull, msg)
		case twirp.Unimplemented:
			return fmt.Errorf("%w: %s", room.ErrUnsupported, msg)
		case twirp.Unauthenticated, twirp.PermissionDenied:
			return fmt.Errorf("%w: the upstream server refused the gateway's API key", apierr.ErrUpstreamUnavailable)
		case twirp.Unavailable, twirp.BadRoute:
			return fmt.Errorf("%w: %s", apierr.ErrUpstreamUnavailable, msg)
		case twirp.DeadlineExceeded, twirp.Canceled:
			return fmt.Errorf("%w: %s", apierr.ErrUpstreamTimeout, msg)
		}
		return fmt.Errorf("upstream %s: %s", te.Code(), msg)
	}
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return fmt.Errorf("%w: %s", apierr.ErrUpstreamUnavailable, describeNetError(err))
	}
	return err
}

func describeNetError(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return "could not connect"
	}
	return "the connection failed"
}

func (u upstream) CreateRoom(ctx context.Context, r *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.Room, error) { return u.c.CreateRoom(ctx, r) })
}

func (u upstream) ListRooms(ctx context.Context, r *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.ListRoomsResponse, error) { return u.c.ListRooms(ctx, r) })
}

func (u upstream) DeleteRoom(ctx context.Context, r *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.DeleteRoomResponse, error) { return u.c.DeleteRoom(ctx, r) })
}

func (u upstream) ListParticipants(ctx context.Context, r *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.ListParticipantsResponse, error) {
		return u.c.ListParticipants(ctx, r)
	})
}

func (u upstream) GetParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.ParticipantInfo, error) { return u.c.GetParticipant(ctx, r) })
}

func (u upstream) RemoveParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.RemoveParticipantResponse, error) {
		return u.c.RemoveParticipant(ctx, r)
	})
}

func (u upstream) MutePublishedTrack(ctx context.Context, r *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.MuteRoomTrackResponse, error) {
		return u.c.MutePublishedTrack(ctx, r)
	})
}

func (u upstream) UpdateParticipant(ctx context.Context, r *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.ParticipantInfo, error) { return u.c.UpdateParticipant(ctx, r) })
}

func (u upstream) UpdateSubscriptions(ctx context.Context, r *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.UpdateSubscriptionsResponse, error) {
		return u.c.UpdateSubscriptions(ctx, r)
	})
}

func (u upstream) SendData(ctx context.Context, r *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.SendDataResponse, error) { return u.c.SendData(ctx, r) })
}

func (u upstream) UpdateRoomMetadata(ctx context.Context, r *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.Room, error) { return u.c.UpdateRoomMetadata(ctx, r) })
}

func (u upstream) ForwardParticipant(ctx context.Context, r *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.ForwardParticipantResponse, error) {
		return u.c.ForwardParticipant(ctx, r)
	})
}

func (u upstream) MoveParticipant(ctx context.Context, r *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	return call(u, ctx, func(ctx context.Context) (*livekit.MoveParticipantResponse, error) {
		return u.c.MoveParticipant(ctx, r)
	})
}

// PerformRpc is not offered by the SDK's client; the gateway does not use it.
func (u upstream) PerformRpc(context.Context, *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	return nil, fmt.Errorf("%w: PerformRpc through the upstream", apierr.ErrUnimplemented)
}

// UpstreamUsher returns a client of Usher's own services (usher.Moderation,
// usher.HostControls, usher.WaitingRoom, usher.Presets) on a remote Usher, which signs each call with the
// grants it needs, with the gateway's timeout and error translation. A server without
// those services (livekit-server) makes the endpoints that need them answer
// NOT_SUPPORTED.
func UpstreamUsher(serverURL, apiKey, apiSecret string, timeout time.Duration) *twirpapi.Client {
	c := twirpapi.NewClient(serverURL, apiKey, apiSecret, nil)
	c.SetInterceptor(usherUpstream(timeout))
	return c
}

// usherServices says, of each of Usher's services, what needs it (for NOT_SUPPORTED)
// and which Twirp codes keep the service's own meaning through the gateway.
var usherServices = map[string]struct {
	needs string
	codes map[twirp.ErrorCode]error
}{
	twirpapi.ModerationServiceName:   {"bans", map[twirp.ErrorCode]error{twirp.ResourceExhausted: auth.ErrTooManyBans}},
	twirpapi.HostControlsServiceName: {"host controls", nil},
	twirpapi.WaitingRoomServiceName:  {"waiting-room endpoints", map[twirp.ErrorCode]error{twirp.FailedPrecondition: room.ErrNotWaiting}},
	twirpapi.PresetsServiceName: {"presets", map[twirp.ErrorCode]error{
		twirp.NotFound:           room.ErrPresetNotFound,
		twirp.AlreadyExists:      room.ErrPresetExists,
		twirp.FailedPrecondition: room.ErrPresetReadOnly,
		twirp.ResourceExhausted:  room.ErrTooManyPresets,
	}},
}

// usherUpstream returns the interceptor of UpstreamUsher: each call gets the gateway's
// timeout; a bad_route (the upstream has no such service: livekit-server) is
// NOT_SUPPORTED, naming what needs it; the service's own codes keep their meaning;
// translate maps the rest.
func usherUpstream(timeout time.Duration) twirpapi.ClientInterceptor {
	return func(ctx context.Context, service, _ string, call func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := call(ctx)
		if err == nil {
			return nil
		}
		svc := usherServices[service]
		var te twirp.Error
		if errors.As(err, &te) {
			if te.Code() == twirp.BadRoute {
				return fmt.Errorf("%w: the upstream server has no %s service (%s need an Usher upstream)", room.ErrUnsupported, service, svc.needs)
			}
			if as, ok := svc.codes[te.Code()]; ok {
				return fmt.Errorf("%w: %s", as, strings.TrimPrefix(te.Msg(), as.Error()+": "))
			}
		}
		return translate(ctx, err)
	}
}

var _ http.Handler = (*Gateway)(nil)

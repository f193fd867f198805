package twirpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/auth"
)

// AuditService is the name of Usher's audit service, served at /twirp/usher.Audit/.
const AuditService = "usher.Audit"

// AuditLog is what the audit service reads.
type AuditLog interface {
	List(ctx context.Context, q audit.Query) (audit.Page, error)
}

// NewAuditHandler serves the usher.Audit service over log: ListAuditEvents takes an
// audit.ListRequest as JSON and answers an audit.Page (docs/audit.md).
func NewAuditHandler(log AuditLog, opts HandlerOptions) http.Handler {
	return NewJSONHandler(AuditService, map[string]JSONMethod{
		"ListAuditEvents": func(ctx context.Context, body []byte) (any, error) {
			return ListAuditEvents(ctx, log, body)
		},
	}, opts)
}

// ListAuditEvents answers one ListAuditEvents request. A query naming a room needs
// roomAdmin for that room; any other needs a server-wide admin token: roomList and
// roomCreate.
func ListAuditEvents(ctx context.Context, log AuditLog, body []byte) (*audit.Page, error) {
	req, err := DecodeAuditRequest(body)
	if err != nil {
		return nil, err
	}
	q, err := req.Query()
	if err != nil {
		return nil, err
	}
	if err := requireAuditGrants(claims(ctx), q.Room); err != nil {
		return nil, err
	}
	page, err := log.List(ctx, q)
	if err != nil {
		return nil, err
	}
	return &page, nil
}

// DecodeAuditRequest decodes a ListAuditEvents body strictly.
func DecodeAuditRequest(body []byte) (audit.ListRequest, error) {
	var req audit.ListRequest
	err := DecodeJSON(body, &req)
	return req, err
}

// requireAuditGrants lets a server-wide admin (roomList and roomCreate) read every
// record, and a room's admin (roomAdmin for it) read the records of that room.
func requireAuditGrants(c *auth.Claims, room string) error {
	const method = "ListAuditEvents"
	if c.RequireRoomList(method) == nil && c.RequireRoomCreate(method) == nil {
		return nil
	}
	if room == "" {
		return fmt.Errorf("%w: %s without a room requires a server-wide admin token (the roomList and roomCreate grants); "+
			"a room's admin (roomAdmin) may list that room's records by naming it in room", auth.ErrPermissionDenied, method)
	}
	return c.RequireRoomAdmin(method, room)
}

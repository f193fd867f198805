package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/usher-rtc/usher/internal/audit"
	"github.com/usher-rtc/usher/internal/room"
)

// AuditLog is what the gateway's audit endpoint reads.
type AuditLog interface {
	List(ctx context.Context, q audit.Query) (audit.Page, error)
}

// listAudit answers GET /livekit/audit: the audit records of the caller's rooms (every
// room's, for a caller without an auth id), filtered by the query parameters.
func (g *Gateway) listAudit(ctx context.Context, c caller, r *http.Request) (int, any, error) {
	if g.opts.Audit == nil {
		return 0, nil, fmt.Errorf("%w: the audit log is kept by the server that runs the rooms; this gateway fronts an upstream server", room.ErrUnsupported)
	}
	q, err := AuditQuery(r.URL.RawQuery)
	if err != nil {
		return 0, nil, err
	}
	if c.authID != "" {
		q.Tenant = c.authID
	}
	page, err := g.opts.Audit.List(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	if c.authID != "" {
		page.Events = audit.ForTenant(page.Events, c.authID)
	}
	return http.StatusOK, page, nil
}

// AuditQuery reads the audit endpoint's query string (see audit.ParseValues; the
// api_key parameter is the caller's token, not a filter).
func AuditQuery(rawQuery string) (audit.Query, error) {
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		return audit.Query{}, fmt.Errorf("%w: the query string is malformed", room.ErrInvalidArgument)
	}
	req, err := audit.ParseValues(v, "api_key")
	if err != nil {
		return audit.Query{}, err
	}
	return req.Query()
}

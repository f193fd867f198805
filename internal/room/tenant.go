package room

import (
	"encoding/json"
	"errors"
	"fmt"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// Tenancy. A room belongs to the tenant named by the auth_id of its metadata (a JSON
// object) when it is created, for its whole life: the REST gateway creates rooms that
// way, and a join token the gateway issues for a tenant carries the same auth_id in its
// signed roomConfig claim. So a room auto-created by such a join belongs to that tenant,
// and a tenant-bound token never joins a room of another tenant, or of none.

// ErrTenantMismatch is returned when a token bound to one tenant names a room of another
// tenant (or of none).
var ErrTenantMismatch = errors.New("the room belongs to another tenant")

// TenantOf returns the tenant named by metadata: the string auth_id of a JSON object,
// or "" when there is none.
func TenantOf(metadata string) string {
	if metadata == "" {
		return ""
	}
	var m struct {
		AuthID string `json:"auth_id"`
	}
	if json.Unmarshal([]byte(metadata), &m) != nil {
		return ""
	}
	return m.AuthID
}

// TenantClaim returns the roomConfig claim that binds a join token to tenant.
func TenantClaim(tenant string) *livekit.RoomConfiguration {
	md, _ := json.Marshal(struct {
		AuthID string `json:"auth_id"`
	}{tenant})
	return &livekit.RoomConfiguration{Metadata: string(md)}
}

// tenantOfGrants returns the tenant a token is bound to, from its roomConfig claim.
func tenantOfGrants(g *lkauth.ClaimGrants) string {
	if g == nil {
		return ""
	}
	return TenantOf(g.GetRoomConfiguration().GetMetadata())
}

// checkTenantLocked refuses a participant whose token is bound to a tenant that does
// not own the room. Tokens bound to no tenant (minted with an API key) join any room.
func (r *Room) checkTenantLocked(p *Participant) error {
	if p.tenant == "" || p.tenant == r.tenant {
		return nil
	}
	return fmt.Errorf("%w: the token was issued for a room of another tenant; room %q is not that room", ErrTenantMismatch, r.name)
}

// rebindTenantLocked makes p's claims name the tenant of the room it was moved to, so
// the token pushed for the new room joins it again.
func (p *Participant) rebindTenantLocked(tenant string) {
	if p.tenant == tenant {
		return
	}
	p.tenant = tenant
	g := p.grants.Clone()
	if tenant == "" {
		g.RoomConfig = nil
	} else {
		rc := &livekit.RoomConfiguration{}
		if old := g.GetRoomConfiguration(); old != nil {
			rc = proto.Clone(old).(*livekit.RoomConfiguration)
		}
		rc.Metadata = TenantClaim(tenant).Metadata
		g.RoomConfig = (*lkauth.RoomConfiguration)(rc)
	}
	p.grants = g
}

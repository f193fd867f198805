package rtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/stun/v4"
)

// DiscoverExternalIP asks each STUN server in turn for this host's public address and
// returns the first answer.
func DiscoverExternalIP(ctx context.Context, servers []string) (string, error) {
	var errs []error
	for _, srv := range servers {
		ip, err := stunBinding(ctx, strings.TrimPrefix(srv, "stun:"))
		if err == nil {
			return ip, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", srv, err))
	}
	return "", fmt.Errorf("could not discover the external IP with STUN: %w", errors.Join(errs...))
}

func stunBinding(ctx context.Context, server string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", server)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(3 * time.Second)
	}
	_ = conn.SetDeadline(deadline)

	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return "", err
	}
	if _, err := conn.Write(req.Raw); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return "", err
		}
		res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if err := res.Decode(); err != nil || res.TransactionID != req.TransactionID {
			continue // not our answer
		}
		var addr stun.XORMappedAddress
		if err := addr.GetFrom(res); err != nil {
			return "", fmt.Errorf("answer without XOR-MAPPED-ADDRESS: %w", err)
		}
		return addr.IP.String(), nil
	}
}

package signal

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/usher-rtc/usher/internal/apierr"
)

func TestConnCaps(t *testing.T) {
	c := newConnCaps(3, 2)
	var releases []func()
	take := func(ip, room, id string) error {
		rel, err := c.acquire(ip, room, id)
		if err == nil {
			releases = append(releases, rel)
		}
		return err
	}
	for _, id := range []string{"a", "a"} {
		if err := take("1.2.3.4", "r", id); err != nil {
			t.Fatal(err)
		}
	}
	err := take("1.2.3.4", "r", "a")
	if !errors.Is(err, apierr.ErrTooManyConnections) || !strings.Contains(err.Error(), "max_connections_per_identity") {
		t.Errorf("third socket for a: %v", err)
	}
	if e, _ := apierr.Lookup(err); e.Status != http.StatusTooManyRequests || e.Code != "TOO_MANY_CONNECTIONS" {
		t.Errorf("catalogue entry %+v", e)
	}
	// The same identity in another room is another key.
	if err := take("1.2.3.4", "other", "a"); err != nil {
		t.Fatal(err)
	}
	err = take("1.2.3.4", "r", "b")
	if !errors.Is(err, apierr.ErrTooManyConnections) || !strings.Contains(err.Error(), "max_connections_per_ip") {
		t.Errorf("fourth socket from the address: %v", err)
	}
	if err := c.check("5.6.7.8", "r", "b"); err != nil {
		t.Errorf("another address: %v", err)
	}
	releases[0]()
	if err := take("1.2.3.4", "r", "a"); err != nil {
		t.Errorf("after a release: %v", err)
	}
	for _, r := range releases[1:] {
		r()
	}
	if n := c.open(); n != 0 || len(c.byIP) != 0 || len(c.byIdentity) != 0 {
		t.Errorf("after releasing everything: %d open, %v %v", n, c.byIP, c.byIdentity)
	}
	// 0 is no cap.
	u := newConnCaps(0, 0)
	for range 100 {
		if _, err := u.acquire("1.2.3.4", "r", "a"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClientIPIgnoresForwardingHeaders(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "/rtc", nil)
	r.RemoteAddr = "[::1]:5000"
	r.Header.Set("X-Forwarded-For", "9.9.9.9")
	if got := clientIP(r); got != "::1" {
		t.Errorf("clientIP = %q", got)
	}
}

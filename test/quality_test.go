package test

import (
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/testutil"
)

// Connection quality: every participant's SDK learns its own rating and the others'
// (ConnectionQualityChanged), and on loopback every connection is excellent.
func TestConnectionQuality(t *testing.T) {
	srv := testutil.StartServer(t)
	a := srv.Join(t, "class", "a")
	b := srv.Join(t, "class", "b")
	mp, _, _ := publishMedia(t, a)
	defer mp.close()
	a.WaitFor(t, 10*time.Second, "connection_quality", "a")
	for _, c := range []*testutil.Client{a, b} {
		for _, who := range []string{"a", "b"} {
			e := c.WaitFor(t, 10*time.Second, "connection_quality", who)
			if e.Detail != "EXCELLENT" {
				t.Errorf("%s sees %s's connection as %s on loopback", c.Identity, who, e.Detail)
			}
		}
	}
	// a's rating does not change any more: a latecomer learns it when it joins.
	late := srv.Join(t, "class", "late")
	if e := late.WaitFor(t, 5*time.Second, "connection_quality", "a"); e.Detail != "EXCELLENT" {
		t.Errorf("the latecomer sees a as %s", e.Detail)
	}
}

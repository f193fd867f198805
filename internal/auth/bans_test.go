package auth

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/store"
)

func TestBansCheckListLiftAndSurviveRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBans(st)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bans := []Ban{
		{Room: "class", Identity: "troll", Reason: "spam", Created: now},
		{Room: "lab", Tenant: "acme", Identity: "mallory", Created: now, Expires: now.Add(time.Hour)},
		{Tenant: "acme", Identity: "eve", Reason: "fraud", Created: now},
	}
	for _, ban := range bans {
		if err := b.Put(ban); err != nil {
			t.Fatal(err)
		}
	}
	check := func(b *Bans) {
		t.Helper()
		cases := []struct {
			room, tenant, identity, want string
		}{
			{"class", "", "troll", `banned from room "class" until lifted: spam`},
			{"class", "other", "troll", `banned from room "class" until lifted: spam`},
			{"class", "", "alice", ""},
			{"lab", "acme", "mallory", `banned from room "lab" until ` + now.Add(time.Hour).UTC().Format(time.RFC3339)},
			{"lab", "", "mallory", ""},       // the room of that name, but not acme's
			{"lab", "globex", "mallory", ""}, // likewise
			{"anything", "acme", "eve", `banned from every room of tenant "acme" until lifted: fraud`},
			{"anything", "globex", "eve", ""},
			{"anything", "", "eve", ""},
		}
		for _, tc := range cases {
			err := b.Check(tc.room, tc.tenant, tc.identity)
			var be *BannedError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check(%q, %q, %q) = %v, want nil", tc.room, tc.tenant, tc.identity, err)
			case tc.want != "" && (!errors.Is(err, ErrBanned) || !errors.As(err, &be) || err.Error() != tc.want):
				t.Errorf("Check(%q, %q, %q) = %v, want %q", tc.room, tc.tenant, tc.identity, err, tc.want)
			}
		}
	}
	check(b)

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	b2, err := NewBans(st2)
	if err != nil {
		t.Fatal(err)
	}
	check(b2)

	all, next, err := b2.List(BanFilter{})
	if err != nil || next != "" || len(all) != 3 {
		t.Fatalf("List() = %v %q %v", all, next, err)
	}
	acme, _, _ := b2.List(BanFilter{Tenant: "acme"})
	if len(acme) != 2 || acme[0].Identity != "mallory" || acme[1].Identity != "eve" {
		t.Errorf("acme's bans = %+v", acme)
	}
	lab, _, _ := b2.List(BanFilter{Room: "lab"})
	if len(lab) != 1 || lab[0].Identity != "mallory" {
		t.Errorf("lab's bans = %+v", lab)
	}

	if _, err := b2.Lift("lab", "", "mallory"); !errors.Is(err, ErrBanNotFound) {
		t.Errorf("lifting with the wrong scope: %v", err)
	}
	lifted, err := b2.Lift("lab", "acme", "mallory")
	if err != nil || lifted.Identity != "mallory" {
		t.Fatalf("Lift = %+v %v", lifted, err)
	}
	if err := b2.Check("lab", "acme", "mallory"); err != nil {
		t.Errorf("after the lift: %v", err)
	}
	if left, _ := st2.Bans(time.Now()); len(left) != 2 {
		t.Errorf("store after the lift holds %d bans", len(left))
	}

	// A ban with an end is gone after it, and swept from the store.
	if err := b2.Put(Ban{Room: "r", Identity: "brief", Created: now, Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Sweep(now.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b2.Len() != 2 {
		t.Errorf("%d bans after the sweep, want 2", b2.Len())
	}
	if left, _ := st2.Bans(time.Time{}); len(left) != 2 {
		t.Errorf("store after the sweep holds %d bans", len(left))
	}
}

func TestBansPagesAndBounds(t *testing.T) {
	b, _ := NewBans(nil)
	for i := range 25 {
		if err := b.Put(Ban{Room: "r", Identity: fmt.Sprintf("u%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		page, next, err := b.List(BanFilter{Limit: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, ban := range page {
			got = append(got, ban.Identity)
		}
		if next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		token = next
	}
	if len(got) != 25 || got[0] != "u00" || got[24] != "u24" {
		t.Errorf("pages gave %v", got)
	}
	if _, _, err := b.List(BanFilter{PageToken: "!!"}); !errors.Is(err, ErrMalformedPageToken) {
		t.Errorf("a junk page token: %v", err)
	}
	// Replacing a ban does not count twice; a new one past the cap is refused.
	b.byTenant[""] = MaxBansPerTenant
	if err := b.Put(Ban{Room: "r", Identity: "u00", Reason: "again"}); err != nil {
		t.Errorf("replacing a ban at the cap: %v", err)
	}
	if err := b.Put(Ban{Room: "r", Identity: "new"}); !errors.Is(err, ErrTooManyBans) {
		t.Errorf("a ban past the cap: %v", err)
	}
	if err := b.Put(Ban{Tenant: "other", Identity: "new"}); err != nil {
		t.Errorf("another tenant's ban: %v", err)
	}
}

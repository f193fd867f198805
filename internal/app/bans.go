package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usher-rtc/usher/internal/api/twirp"
)

const bansUsage = `Usage:
  usher bans list [--room ROOM] [--tenant TENANT] [--json] [connection flags]
  usher bans add  --identity IDENTITY (--room ROOM | --tenant TENANT) [--duration 1h] [--reason TEXT]
  usher bans lift --identity IDENTITY (--room ROOM | --tenant TENANT)

Bans keep an identity out of a room, or out of every room of a tenant (a REST
gateway auth id). They call the running server's usher.Moderation service.

Connection flags (as lk's):
`

// connFlags are the flags that reach a running server, named as lk names them.
type connFlags struct {
	url, apiKey, apiSecret string
}

func (c *connFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	def := getenv("LIVEKIT_URL")
	if def == "" {
		def = "http://127.0.0.1:7880"
	}
	fs.StringVar(&c.url, "url", def, "`URL` of the server (env LIVEKIT_URL)")
	fs.StringVar(&c.apiKey, "api-key", getenv("LIVEKIT_API_KEY"), "API `key` (env LIVEKIT_API_KEY)")
	fs.StringVar(&c.apiSecret, "api-secret", getenv("LIVEKIT_API_SECRET"), "API `secret` (env LIVEKIT_API_SECRET)")
}

func (c *connFlags) client() (*twirpapi.Client, error) {
	if c.apiKey == "" || c.apiSecret == "" {
		return nil, errors.New("--api-key and --api-secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET) are required")
	}
	return twirpapi.NewClient(c.url, c.apiKey, c.apiSecret, nil), nil
}

// bans runs `usher bans list|add|lift`.
func bans(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		printBansUsage(stdout, getenv)
		return nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		printBansUsage(stderr, getenv)
		return errors.New("bans needs a command: list, add or lift")
	}
	cmd, args := args[0], args[1:]
	fs := newFlagSet("bans " + cmd)
	var conn connFlags
	conn.register(fs, getenv)
	roomName := fs.String("room", "", "the `room`")
	tenant := fs.String("tenant", "", "the `tenant` (REST auth id): with --room, the room while it is the tenant's; alone, every room of the tenant")
	var identity, reason *string
	var duration *time.Duration
	var asJSON *bool
	switch cmd {
	case "list":
		asJSON = fs.Bool("json", false, "print the bans as JSON, one object per line")
	case "add":
		identity = fs.String("identity", "", "the participant `identity` to ban (required)")
		duration = fs.Duration("duration", 0, "how long the ban lasts (0: until lifted)")
		reason = fs.String("reason", "", "why, as the banned participant is told")
	case "lift":
		identity = fs.String("identity", "", "the participant `identity` whose ban ends (required)")
	default:
		printBansUsage(stderr, getenv)
		return fmt.Errorf("unknown bans command %q (list, add or lift)", cmd)
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	client, err := conn.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch cmd {
	case "list":
		return listBans(ctx, client, *roomName, *tenant, *asJSON, stdout)
	case "add":
		if *identity == "" || (*roomName == "" && *tenant == "") {
			return errors.New("bans add needs --identity, and --room or --tenant")
		}
		if *duration < 0 || (*duration > 0 && *duration < time.Second) {
			return errors.New("--duration must be 0 (until lifted) or at least 1s")
		}
		res, err := client.BanParticipant(ctx, &twirpapi.BanParticipantRequest{
			Room: *roomName, Tenant: *tenant, Identity: *identity,
			DurationSeconds: int64(*duration / time.Second), Reason: *reason,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "banned %q from %s %s\n", res.Ban.Identity, scopeOf(res.Ban), untilOf(res.Ban))
		for _, r := range res.Removed {
			fmt.Fprintf(stdout, "removed %q from room %q\n", r.Identity, r.Room)
		}
		return nil
	default: // lift
		if *identity == "" || (*roomName == "" && *tenant == "") {
			return errors.New("bans lift needs --identity, and --room or --tenant")
		}
		res, err := client.LiftBan(ctx, &twirpapi.LiftBanRequest{Room: *roomName, Tenant: *tenant, Identity: *identity})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "lifted the ban of %q from %s\n", res.Ban.Identity, scopeOf(res.Ban))
		return nil
	}
}

func printBansUsage(w io.Writer, getenv func(string) string) {
	fmt.Fprint(w, bansUsage)
	fs := newFlagSet("bans")
	var conn connFlags
	conn.register(fs, getenv)
	printFlags(w, fs)
}

// listBans prints every page of the bans that match.
func listBans(ctx context.Context, client *twirpapi.Client, roomName, tenant string, asJSON bool, stdout io.Writer) error {
	var all []twirpapi.BanJSON
	token := ""
	for {
		res, err := client.ListBans(ctx, &twirpapi.ListBansRequest{Room: roomName, Tenant: tenant, PageToken: token})
		if err != nil {
			return err
		}
		all = append(all, res.Bans...)
		if res.NextPageToken == "" {
			break
		}
		token = res.NextPageToken
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, b := range all {
			if err := enc.Encode(b); err != nil {
				return err
			}
		}
		return nil
	}
	if len(all) == 0 {
		fmt.Fprintln(stdout, "no bans")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tROOM\tTENANT\tUNTIL\tREASON\tBY")
	for _, b := range all {
		until := b.ExpiresAt
		if until == "" {
			until = "lifted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.Identity, orDash(b.Room, "(every room)"), orDash(b.Tenant, "-"), until, orDash(b.Reason, "-"), orDash(b.CreatedBy, "-"))
	}
	return tw.Flush()
}

func orDash(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}

// scopeOf names what a ban covers: `room "r"`, `room "r" of tenant "t"`, or `every
// room of tenant "t"`.
func scopeOf(b twirpapi.BanJSON) string {
	switch {
	case b.Room == "":
		return fmt.Sprintf("every room of tenant %q", b.Tenant)
	case b.Tenant != "":
		return fmt.Sprintf("room %q of tenant %q", b.Room, b.Tenant)
	}
	return fmt.Sprintf("room %q", b.Room)
}

func untilOf(b twirpapi.BanJSON) string {
	if b.ExpiresAt == "" {
		return "until lifted"
	}
	return "until " + b.ExpiresAt
}

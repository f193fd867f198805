// Package app is Usher's command line: flags and subcommands, config loading,
// logging, and running the server until a signal stops it.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/server"
	"github.com/usher-rtc/usher/internal/version"
)

// shutdownGrace is how long in-flight requests get to finish after SIGINT/SIGTERM.
const shutdownGrace = 30 * time.Second

const usageText = `usher: a self-hosted realtime room server that speaks LiveKit's protocols.

Usage:
  usher [flags]                 start the server
  usher generate-keys           print a new API key and secret
  usher create-join-token --room ROOM --identity IDENTITY [flags]
                                print an access token that joins ROOM as IDENTITY
  usher create-admin-token [--room ROOM] [flags]
                                print a token for the Room service API (roomCreate,
                                roomList, and roomAdmin for ROOM)
  usher bans list|add|lift [flags]
                                list, add or lift bans on a running server
                                (--url, --api-key, --api-secret as lk's; see
                                ` + "`usher bans help`" + `)
  usher ports [flags]           print the ports the server uses
  usher audit [--room ROOM] [--identity ID] [--kind KIND] [--since 2h] [flags]
                                print a running server's audit log (--url,
                                --api-key, --api-secret as for lk; docs/audit.md)
  usher version                 print the version
  usher help                    print this help

Quick start:
  usher --dev                   listen on 127.0.0.1:7880 with key "devkey", secret "secret"

Flags:
`

// Main runs the command line with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, args, stdout, stderr, osGetenv)
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "usher: %v\n", err)
		return 1
	}
}

// Run is Main with an explicit context (cancel it to stop the server) and environment.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "generate-keys":
			return generateKeys(args[1:], stdout, stderr)
		case "create-join-token":
			return createToken(args[1:], false, stdout, stderr, getenv)
		case "create-admin-token":
			return createToken(args[1:], true, stdout, stderr, getenv)
		case "ports":
			return ports(args[1:], stdout, stderr, getenv)
		case "audit":
			return auditCmd(ctx, args[1:], stdout, stderr, getenv)
		case "bans":
			return bans(ctx, args[1:], stdout, stderr, getenv)
		case "version":
			fmt.Fprintf(stdout, "usher %s (%s, LiveKit protocol %d)\n", version.Version, runtime.Version(), version.ProtocolVersion)
			return nil
		case "help":
			printUsage(stdout)
			return nil
		default:
			return fmt.Errorf("unknown command %q; run `usher help`", args[0])
		}
	}
	return serve(ctx, args, stdout, stderr, getenv)
}

func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
}

func printUsage(w io.Writer) {
	fs := newFlagSet("usher")
	var f serverFlags
	f.register(fs, true)
	fmt.Fprint(w, usageText)
	printFlags(w, fs)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("usher")
	fs.Usage = func() { printUsage(stderr) }
	var f serverFlags
	f.register(fs, true)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, warnings, err := f.load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Logging, stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	if f.checkOnly {
		fmt.Fprintf(stdout, "configuration is valid: port %d, %d API key(s), rtc udp %d / tcp %d\n",
			cfg.Port, len(cfg.Keys), cfg.RTC.UDPPort, cfg.RTC.TCPPort)
		return nil
	}

	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if cfg.Development {
		log.Info("development mode: API key \"devkey\", secret \"secret\"", "url", srv.URL())
	}
	log.Info("usher started", "version", version.Version)

	<-ctx.Done()
	log.Info("shutting down; finishing in-flight requests", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(c config.LoggingConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n characters drawn uniformly from base62.
func randomString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if b < 248 && len(out) < n { // 248 = 4*62: drop the biased tail
				out = append(out, base62[int(b)%62])
			}
		}
	}
	return string(out)
}

func generateKeys(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate-keys")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	key := "API" + randomString(12)
	secret := randomString(43) // about 256 bits
	fmt.Fprintf(stdout, "API Key:     %s\nAPI Secret:  %s\n\nIn a config file:\nkeys:\n  %s: %s\n", key, secret, key, secret)
	return nil
}

// createToken prints a join token (--room and --identity required) or, with admin, a
// token for the Room service API.
func createToken(args []string, admin bool, stdout, stderr io.Writer, getenv func(string) string) error {
	name := "create-join-token"
	if admin {
		name = "create-admin-token"
	}
	fs := newFlagSet(name)
	var f serverFlags
	f.register(fs, false)
	roomName := fs.String("room", "", "the `room` to join (required), or to administer")
	identity := fs.String("identity", "", "the participant `identity` (required for a join token)")
	apiKey := fs.String("api-key", "", "which API `key` signs the token, when several are configured")
	validFor := fs.Duration("valid-for", 6*time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if !admin && (*roomName == "" || *identity == "") {
		return errors.New("create-join-token needs --room and --identity")
	}
	if *validFor <= 0 {
		return errors.New("--valid-for must be positive")
	}
	cfg, _, err := f.load(getenv)
	if err != nil {
		return err
	}
	if *validFor > cfg.Auth.MaxTokenLifetime {
		return fmt.Errorf("--valid-for %s is longer than auth.max_token_lifetime (%s): the server would refuse the token", *validFor, cfg.Auth.MaxTokenLifetime)
	}
	key := *apiKey
	if key == "" {
		if len(cfg.Keys) != 1 {
			names := make([]string, 0, len(cfg.Keys))
			for k := range cfg.Keys {
				names = append(names, k)
			}
			sort.Strings(names)
			return fmt.Errorf("%d API keys are configured (%s); choose one with --api-key", len(cfg.Keys), strings.Join(names, ", "))
		}
		for k := range cfg.Keys {
			key = k
		}
	}
	secret, ok := cfg.Keys[key]
	if !ok {
		return fmt.Errorf("API key %q is not configured", key)
	}
	grant := &lkauth.VideoGrant{RoomJoin: true, Room: *roomName}
	if admin {
		grant = &lkauth.VideoGrant{RoomCreate: true, RoomList: true, RoomAdmin: *roomName != "", Room: *roomName}
	}
	at := lkauth.NewAccessToken(key, secret).SetValidFor(*validFor).SetVideoGrant(grant)
	if *identity != "" {
		at.SetIdentity(*identity)
	}
	tok, err := at.ToJWT()
	if err != nil {
		return fmt.Errorf("signing the token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	if admin {
		fmt.Fprintf(stderr, "admin token (roomCreate, roomList%s), signed with key %q, valid for %s\n",
			map[bool]string{true: ", roomAdmin for room " + strconv.Quote(*roomName)}[*roomName != ""], key, *validFor)
	} else {
		fmt.Fprintf(stderr, "token for identity %q in room %q, signed with key %q, valid for %s\n", *identity, *roomName, key, *validFor)
	}
	return nil
}

func ports(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlagSet("ports")
	var f serverFlags
	f.register(fs, false)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, _, err := f.load(getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "HTTP, WebSocket (/rtc), Twirp:  %d/tcp\n", cfg.Port)
	if cfg.RTC.TCPPort != 0 {
		fmt.Fprintf(stdout, "WebRTC ICE over TCP:            %d/tcp\n", cfg.RTC.TCPPort)
	}
	if cfg.RTC.UDPPort != 0 {
		fmt.Fprintf(stdout, "WebRTC ICE over UDP:            %d/udp\n", cfg.RTC.UDPPort)
	} else {
		fmt.Fprintf(stdout, "WebRTC ICE over UDP:            %d-%d/udp\n", cfg.RTC.PortRangeStart, cfg.RTC.PortRangeEnd)
	}
	return nil
}

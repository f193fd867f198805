package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// The browser media test: two headless Chromium pages with the official JS SDK
// (livekit-client, pinned in test/browser/package.json) join one room, publish the fake
// camera and microphone, and each must decode the other's video and receive its audio, in
// the SDK's default single peer connection mode (/rtc/v1) and in the two-connection mode.
// test/browser/run.mjs does the browser side; this test starts the server, mints the
// tokens, runs it and checks its JSON result.
//
// USHER_BROWSER_REFERENCE=ws://127.0.0.1:7880 runs the same test against another server
// (livekit-server --dev), with tokens for USHER_BROWSER_REFERENCE_KEY/_SECRET (default
// devkey/secret), to check the harness itself.

const (
	browserDir      = "browser"
	browserChromium = "/usr/bin/chromium"
	// browserStageTimeout bounds each stage in the runner (launch, connect and publish,
	// subscribe, first frame); browserModeTimeout bounds a whole mode.
	browserStageTimeout = 10 * time.Second
	browserModeTimeout  = 50 * time.Second
)

const browserInstallHint = "run ./scripts/test.sh, which installs Debian's chromium, Node.js and test/browser's npm packages (npm ci)"

func TestBrowserMedia(t *testing.T) {
	node := browserPrerequisites(t)
	reference := os.Getenv("USHER_BROWSER_REFERENCE")
	for _, mode := range []string{"single", "dual"} {
		t.Run(mode, func(t *testing.T) {
			room := "browser-" + mode
			cfg := browserRunConfig{Mode: mode, StageTimeoutMs: browserStageTimeout.Milliseconds(), SampleMs: 1000, TmpDir: t.TempDir(),
				RoomOptions: map[string]any{"dynacast": true}, CheckDynacast: true}
			if reference != "" {
				cfg.URL = reference
				room += "-" + fmt.Sprint(time.Now().UnixNano())
				for _, id := range []string{"alice", "bob"} {
					cfg.Participants = append(cfg.Participants, browserParticipant{Identity: id, Token: referenceToken(t, room, id)})
				}
			} else {
				srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) { c.RTC.NodeIP = "127.0.0.1" }))
				cfg.URL = srv.WSURL
				for _, id := range []string{"alice", "bob"} {
					cfg.Participants = append(cfg.Participants, browserParticipant{Identity: id, Token: testutil.JoinToken(t, room, id)})
				}
			}
			res := runBrowser(t, node, cfg)
			res.report(t)
			if !res.OK {
				t.Fatalf("%s mode: the browsers did not see and hear each other: stopped at stage %q: %s%s",
					mode, res.Stage, res.Error, res.problemList())
			}
			if d := res.Dynacast; d != nil {
				t.Logf("dynacast: %d simulcast encodings; only the lowest active %d ms after the subscriber asked for it, all again %d ms after it asked for the high one",
					d.Encodings, d.LowAfterMs, d.HighAfterMs)
			}
		})
	}
}

// browserPrerequisites fails the test (never skips it) when something the browser test
// needs is missing, and returns the path of node.
func browserPrerequisites(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %s", browserInstallHint)
	}
	if _, err := os.Stat(browserChromium); err != nil {
		t.Fatalf("%s is missing: %s", browserChromium, browserInstallHint)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile(filepath.Join(browserDir, "package.json"))
	if err != nil {
		t.Fatalf("reading %s/package.json: %v", browserDir, err)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", browserDir, err)
	}
	for name, want := range pkg.Dependencies {
		var got struct {
			Version string `json:"version"`
		}
		raw, err := os.ReadFile(filepath.Join(browserDir, "node_modules", name, "package.json"))
		if err != nil {
			t.Fatalf("%s is not installed in %s/node_modules: %s", name, browserDir, browserInstallHint)
		}
		if err := json.Unmarshal(raw, &got); err != nil || got.Version != want {
			t.Fatalf("%s/node_modules has %s %q, package.json pins %q: %s", browserDir, name, got.Version, want, browserInstallHint)
		}
	}
	return node
}

func referenceToken(t *testing.T, room, identity string) string {
	t.Helper()
	key, secret := os.Getenv("USHER_BROWSER_REFERENCE_KEY"), os.Getenv("USHER_BROWSER_REFERENCE_SECRET")
	if key == "" {
		key, secret = "devkey", "secret"
	}
	tok, err := lkauth.NewAccessToken(key, secret).SetIdentity(identity).SetValidFor(time.Hour).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// browserRunConfig is run.mjs's input.
type browserRunConfig struct {
	URL            string               `json:"url"`
	Mode           string               `json:"mode"`
	Participants   []browserParticipant `json:"participants"`
	StageTimeoutMs int64                `json:"stageTimeoutMs"`
	SampleMs       int64                `json:"sampleMs"`
	// TmpDir holds Chromium's fresh profile.
	TmpDir string `json:"tmpDir"`
	// RoomOptions are livekit-client's Room options; CheckDynacast adds the dynacast
	// stages (the second page asks for the low layer of the first's camera, then the
	// high one, and the first's simulcast encodings must follow).
	RoomOptions   map[string]any `json:"roomOptions,omitempty"`
	CheckDynacast bool           `json:"checkDynacast,omitempty"`
}

type browserParticipant struct {
	Identity string `json:"identity"`
	Token    string `json:"token"`
}

// browserResult is the part of run.mjs's output the test reads.
type browserResult struct {
	OK       bool              `json:"ok"`
	Mode     string            `json:"mode"`
	Stage    string            `json:"stage"`
	Error    string            `json:"error"`
	Problems []string          `json:"problems"`
	Versions map[string]string `json:"versions"`
	SetupMs  int64             `json:"setupMs"`
	TotalMs  int64             `json:"totalMs"`
	// Dynacast is what the dynacast stages measured.
	Dynacast *struct {
		Encodings   int   `json:"encodings"`
		LowAfterMs  int64 `json:"lowAfterMs"`
		HighAfterMs int64 `json:"highAfterMs"`
	} `json:"dynacast"`

	Participants []struct {
		Identity string `json:"identity"`
		Start    *struct {
			ConnectMs   int64            `json:"connectMs"`
			PublishedMs map[string]int64 `json:"publishedMs"`
		} `json:"start"`
		FirstFrameMs *int64            `json:"firstFrameMs"`
		SubscribedMs map[string]*int64 `json:"subscribedMs"`
		Stats        json.RawMessage   `json:"stats"` // two samples when it got that far
		Status       *struct {
			Events          []map[string]any `json:"events"`
			PeerConnections []map[string]any `json:"peerConnections"`
		} `json:"status"`
		Signal struct {
			Sockets []map[string]any `json:"sockets"`
			Frames  []map[string]any `json:"frames"`
		} `json:"signal"`
		SDKLogTail []string `json:"sdkLogTail"`
		Console    []string `json:"console"`
	} `json:"participants"`
}

type browserSample struct {
	Video *struct {
		MimeType       string `json:"mimeType"`
		FramesDecoded  int64  `json:"framesDecoded"`
		PacketsReceive int64  `json:"packetsReceived"`
		FrameWidth     int64  `json:"frameWidth"`
		FrameHeight    int64  `json:"frameHeight"`
	} `json:"video"`
	Audio *struct {
		MimeType        string `json:"mimeType"`
		BytesReceived   int64  `json:"bytesReceived"`
		PacketsReceived int64  `json:"packetsReceived"`
	} `json:"audio"`
	VideoFrameCallbacks int64 `json:"videoFrameCallbacks"`
}

func runBrowser(t *testing.T, node string, cfg browserRunConfig) *browserResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), browserModeTimeout)
	defer cancel()
	in, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(browserDir, "run.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// On timeout the runner gets SIGTERM and closes Chromium itself; SIGKILL follows if it
	// has not exited 10 s later (Chromium then exits as its control pipe closes).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			t.Log(line)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the browser runner did not finish within %s (ran %s): %v", browserModeTimeout, time.Since(start).Round(time.Millisecond), runErr)
	}
	var res browserResult
	out := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("the browser runner's output is not a result (%v; exit: %v): %q", err, runErr, stdout.String())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("running the browser runner: %v", runErr)
	}
	if runErr != nil && res.OK {
		t.Fatalf("the browser runner reported success but exited with %v", runErr)
	}
	if exitErr != nil && exitErr.ExitCode() == 2 {
		t.Fatalf("the browser runner could not run (%s: %s): %s", res.Stage, res.Error, browserInstallHint)
	}
	return &res
}

func (r *browserResult) problemList() string {
	if len(r.Problems) == 0 {
		return ""
	}
	return "\n  " + strings.Join(r.Problems, "\n  ")
}

// report logs the figures, and on failure what each page saw, stage by stage.
func (r *browserResult) report(t *testing.T) {
	t.Helper()
	t.Logf("%s mode: livekit-client %s, Chromium %s, playwright-core %s; browser up in %d ms, run %d ms",
		r.Mode, r.Versions["livekitClient"], r.Versions["chromium"], r.Versions["playwrightCore"], r.SetupMs, r.TotalMs)
	for _, p := range r.Participants {
		line := fmt.Sprintf("  %s:", p.Identity)
		if p.Start != nil {
			line += fmt.Sprintf(" connected %d ms, published camera %d ms microphone %d ms;",
				p.Start.ConnectMs, p.Start.PublishedMs["camera"], p.Start.PublishedMs["microphone"])
		}
		if c := p.SubscribedMs["camera"]; c != nil {
			line += fmt.Sprintf(" subscribed camera %d ms", *c)
		}
		if m := p.SubscribedMs["microphone"]; m != nil {
			line += fmt.Sprintf(" microphone %d ms;", *m)
		}
		if p.FirstFrameMs != nil {
			line += fmt.Sprintf(" first decoded frame %d ms after connect;", *p.FirstFrameMs)
		}
		var samples []browserSample
		if json.Unmarshal(p.Stats, &samples) == nil && len(samples) == 2 && samples[0].Video != nil && samples[1].Video != nil &&
			samples[0].Audio != nil && samples[1].Audio != nil {
			a, b := samples[0], samples[1]
			line += fmt.Sprintf(" %s %dx%d framesDecoded %d→%d (%d frame callbacks), %s bytes %d→%d packets %d→%d",
				b.Video.MimeType, b.Video.FrameWidth, b.Video.FrameHeight, a.Video.FramesDecoded, b.Video.FramesDecoded,
				b.VideoFrameCallbacks-a.VideoFrameCallbacks, b.Audio.MimeType, a.Audio.BytesReceived, b.Audio.BytesReceived,
				a.Audio.PacketsReceived, b.Audio.PacketsReceived)
		}
		t.Log(line)
	}
	if r.OK {
		return
	}
	for _, p := range r.Participants {
		t.Logf("---- %s: signal connections %s", p.Identity, compactJSON(p.Signal.Sockets))
		for _, f := range p.Signal.Frames {
			if f["case"] == "trickle" {
				continue
			}
			t.Logf("  %s", compactJSON(f))
		}
		if p.Status != nil {
			t.Logf("---- %s: SDK events", p.Identity)
			for _, e := range p.Status.Events {
				t.Logf("  %s", compactJSON(e))
			}
			t.Logf("---- %s: peer connections %s", p.Identity, compactJSON(p.Status.PeerConnections))
		}
		if len(p.Stats) > 0 {
			t.Logf("---- %s: RTP stats %s", p.Identity, p.Stats)
		}
		if len(p.SDKLogTail) > 0 {
			t.Logf("---- %s: SDK log (tail)\n  %s", p.Identity, strings.Join(p.SDKLogTail, "\n  "))
		}
		if len(p.Console) > 0 {
			t.Logf("---- %s: console\n  %s", p.Identity, strings.Join(p.Console, "\n  "))
		}
	}
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

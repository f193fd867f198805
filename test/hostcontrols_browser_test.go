package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/testutil"
)

// The host-controls browser test: RealtimeKit's TypeScript examples (seed 004, "Manage
// Participants in a Session"), run through the @usher-rtc/host-controls wrapper
// (clients/js, built to clients/js/dist by scripts/test.sh) over livekit-client in three
// headless Chromium pages against the real server: a host and two students, each with its
// preset from its token. test/browser/hostcontrols.mjs drives the pages step by step and
// checks the events every page's meeting object emits: permissions, the 1201 branch,
// disableAudio, disableAllAudio with allowUnmute false (a hard mute that the student's
// unmute attempts cannot break), enableAudio, disableVideo, disableAllVideo, pin, pinning
// another, unpin, kick (roomLeft "kicked") and kickAll (roomLeft "ended" everywhere).
//
// USHER_HOSTCONTROLS_LOG=1 logs every action and every page's events even when it passes.

const (
	hostControlsRunner  = "hostcontrols.mjs"
	hostControlsWrapper = "../clients/js"
	// hostControlsTimeout bounds the whole run; each wait inside it has browserStageTimeout.
	hostControlsTimeout = 120 * time.Second
)

// The presets of docs/host-controls.md, merged into the test server's configuration the
// way a configuration file is.
const hostControlsPresets = `
presets:
  host:
    can_publish: true
    can_subscribe: true
    can_publish_data: true
    host:
      disable_participant_audio: true
      disable_participant_video: true
      pin_participant: true
      kick_participant: true
  student:
    can_publish: true
    can_publish_sources: [microphone, camera]
    can_subscribe: true
    can_publish_data: true
`

func TestHostControlsBrowser(t *testing.T) {
	node := browserPrerequisites(t)
	hostControlsWrapperBuilt(t)
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.RTC.NodeIP = "127.0.0.1"
		if _, err := config.Merge(c, []byte(hostControlsPresets)); err != nil {
			t.Fatalf("the presets of docs/host-controls.md: %v", err)
		}
	}))
	room := "host-controls"
	in := hostControlsInput{URL: srv.WSURL, StageTimeoutMs: browserStageTimeout.Milliseconds(), TmpDir: t.TempDir()}
	for _, p := range []struct{ identity, role string }{{"teacher", "host"}, {"alice", "student"}, {"bob", "student"}} {
		tok := testutil.JoinToken(t, room, p.identity, testutil.WithAttributes(map[string]string{"usher.preset": p.role}))
		in.Participants = append(in.Participants, hostControlsPeer{Identity: p.identity, Role: p.role, Token: tok})
	}
	res := runHostControls(t, node, in)
	res.report(t)
	if !res.OK {
		t.Fatalf("the seed's examples did not behave as the seed describes: stopped at step %q: %s", res.Stage, res.Error)
	}
}

// hostControlsWrapperBuilt fails the test when the wrapper's build is missing or was built
// against another livekit-client than the one test/browser serves to the page.
func hostControlsWrapperBuilt(t *testing.T) {
	t.Helper()
	const hint = "run ./scripts/test.sh, which builds clients/js (npm ci && npm run build)"
	if _, err := os.Stat(filepath.Join(hostControlsWrapper, "dist", "index.js")); err != nil {
		t.Fatalf("the wrapper is not built (%v): %s", err, hint)
	}
	var wrapper, harness struct {
		DevDependencies map[string]string `json:"devDependencies"`
		Dependencies    map[string]string `json:"dependencies"`
	}
	for path, v := range map[string]any{
		filepath.Join(hostControlsWrapper, "package.json"): &wrapper,
		filepath.Join(browserDir, "package.json"):          &harness,
	} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if w, h := wrapper.DevDependencies["livekit-client"], harness.Dependencies["livekit-client"]; w == "" || w != h {
		t.Fatalf("clients/js builds against livekit-client %q but test/browser serves %q to the page: pin the same version", w, h)
	}
}

type hostControlsInput struct {
	// Scenario is "host-controls" (the default) or "waiting-room".
	Scenario       string             `json:"scenario,omitempty"`
	URL            string             `json:"url"`
	Participants   []hostControlsPeer `json:"participants"`
	StageTimeoutMs int64              `json:"stageTimeoutMs"`
	TmpDir         string             `json:"tmpDir"`
}

type hostControlsPeer struct {
	Identity string `json:"identity"`
	Role     string `json:"role"`
	Token    string `json:"token"`
}

// hostControlsResult is hostcontrols.mjs's output.
type hostControlsResult struct {
	OK          bool              `json:"ok"`
	SetupFailed bool              `json:"setupFailed"`
	Stage       string            `json:"stage"`
	Error       string            `json:"error"`
	Versions    map[string]string `json:"versions"`
	TotalMs     int64             `json:"totalMs"`
	// AdmitToMediaMs is, in the waiting-room scenario, how long from the host's admit
	// to the admitted page having the host's microphone and camera.
	AdmitToMediaMs int64 `json:"admitToMediaMs"`
	Steps          []struct {
		Name string `json:"name"`
		Ms   int64  `json:"ms"`
	} `json:"steps"`
	Actions []map[string]any `json:"actions"`
	Pages   []struct {
		Identity   string           `json:"identity"`
		Role       string           `json:"role"`
		State      json.RawMessage  `json:"state"`
		Log        []map[string]any `json:"log"`
		Console    []string         `json:"console"`
		SDKLogTail []string         `json:"sdkLogTail"`
	} `json:"pages"`
}

func runHostControls(t *testing.T, node string, in hostControlsInput) *hostControlsResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hostControlsTimeout)
	defer cancel()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(browserDir, hostControlsRunner))
	cmd.Stdin = bytes.NewReader(raw)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// On timeout the runner gets SIGTERM and closes Chromium itself; SIGKILL follows 10 s later.
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
		t.Fatalf("the host-controls runner did not finish within %s (ran %s): %v", hostControlsTimeout, time.Since(start).Round(time.Millisecond), runErr)
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var res hostControlsResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("the host-controls runner's output is not a result (%v; exit: %v): %q", err, runErr, stdout.String())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("running the host-controls runner: %v", runErr)
	}
	if runErr != nil && res.OK {
		t.Fatalf("the host-controls runner reported success but exited with %v", runErr)
	}
	if res.SetupFailed {
		t.Fatalf("the host-controls runner could not run (%s: %s): %s", res.Stage, res.Error, browserInstallHint)
	}
	return &res
}

// report logs the steps, and on failure (or with USHER_HOSTCONTROLS_LOG=1) the actions and
// what each page's meeting object saw.
func (r *hostControlsResult) report(t *testing.T) {
	t.Helper()
	t.Logf("livekit-client %s in Chromium %s; %d steps in %d ms", r.Versions["livekitClientInPage"], r.Versions["chromium"], len(r.Steps), r.TotalMs)
	for _, s := range r.Steps {
		t.Logf("  %-24s %5d ms", s.Name, s.Ms)
	}
	if r.OK && os.Getenv("USHER_HOSTCONTROLS_LOG") == "" {
		return
	}
	t.Log("---- actions")
	for _, a := range r.Actions {
		t.Logf("  %s", compactJSON(a))
	}
	for _, p := range r.Pages {
		t.Logf("---- %s (%s): state %s", p.Identity, p.Role, p.State)
		for _, e := range p.Log {
			t.Logf("  %s", compactJSON(e))
		}
		if len(p.Console) > 0 {
			t.Logf("---- %s: console\n  %s", p.Identity, strings.Join(p.Console, "\n  "))
		}
		if len(p.SDKLogTail) > 0 {
			t.Logf("---- %s: SDK log (tail)\n  %s", p.Identity, strings.Join(p.SDKLogTail, "\n  "))
		}
	}
}

// The waiting room in Chromium: a doctor (the wrapper's waitlisted map and
// accept/reject calls) and two patients with the unchanged livekit-client, each with its
// preset from its token. test/browser/hostcontrols.mjs (scenario "waiting-room") checks
// that the waiting pages see nobody and nobody but the doctor sees them, the message,
// the 1201 of a waiting patient, admit (media both ways) and deny (roomLeft "rejected",
// the token refused after).
func TestWaitingRoomBrowser(t *testing.T) {
	node := browserPrerequisites(t)
	hostControlsWrapperBuilt(t)
	srv := testutil.StartServer(t, testutil.WithConfig(func(c *config.Config) {
		c.RTC.NodeIP = "127.0.0.1"
		clinicPresets(c)
	}))
	in := hostControlsInput{Scenario: "waiting-room", URL: srv.WSURL, StageTimeoutMs: browserStageTimeout.Milliseconds(), TmpDir: t.TempDir()}
	for _, p := range []struct{ identity, role string }{{"doctor", "doctor"}, {"pat", "patient"}, {"sam", "patient"}} {
		tok := testutil.JoinToken(t, "visit", p.identity, testutil.WithAttributes(map[string]string{"usher.preset": p.role}))
		in.Participants = append(in.Participants, hostControlsPeer{Identity: p.identity, Role: p.role, Token: tok})
	}
	res := runHostControls(t, node, in)
	res.report(t)
	if !res.OK {
		t.Fatalf("the waiting room did not behave as described: stopped at step %q: %s", res.Stage, res.Error)
	}
	t.Logf("admit to the doctor's media on the admitted page: %d ms", res.AdmitToMediaMs)
}

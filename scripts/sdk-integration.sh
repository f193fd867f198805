#!/usr/bin/env bash
# Runs the official Go SDK's own integration tests (integration_test.go of
# github.com/livekit/server-sdk-go/v2) against a real Usher, or against another
# LiveKit-compatible server binary for comparison.
#
#   scripts/sdk-integration.sh                     # build Usher from this checkout, run the tests
#   scripts/sdk-integration.sh --run 'TestResume'  # only some tests (a go test -run regex)
#   scripts/sdk-integration.sh --reference /work/ref/server   # the same tests against livekit-server
#   scripts/sdk-integration.sh --race              # the SDK tests (as its `mage test` does) and Usher
#                                                  # built with the race detector
#   scripts/sdk-integration.sh --with-force-tls    # also TestForceTLS (needs a TURN/TLS relay; see below)
#   scripts/sdk-integration.sh --isolate           # a fresh server for each top-level test
#
# By default one server serves every test, as in the SDK's own `mage test`. With
# --isolate each top-level test gets a freshly started server and its own log
# (server-TestName.log), so a crash or leftover state in one test cannot fail the next,
# and each log holds exactly one test's story. If the server exits during a run, the
# harness says so and prints the end of its log (a panic is the usual reason).
#
# The SDK's tests dial the constant host ws://localhost:7880 and read the API key from
# LIVEKIT_KEYS ("key: secret"), so the server must listen on 127.0.0.1:7880 (the port is
# not configurable on the test side) and nothing else may hold that port. WebRTC runs on
# loopback: the server advertises 127.0.0.1 candidates on UDP 7882 (ICE/TCP 7881).
#
# The SDK module is copied from the module cache (read-only there) to a work directory and
# tested with its own go.mod; the module proxy supplies what is missing. Nothing in this
# repository is changed. The work directory keeps server.log (debug level) and test.log
# after the run; its path is printed at the end.
#
# TestForceTLS is left out by default: it asks the server for a TLS-only reconnection
# (the SDK's SimulateForceTLS) and then requires the selected ICE candidate of both peer
# connections to be a relay candidate, i.e. the server must hand out TURN/TLS ICE servers
# (livekit-server: turn.enabled with tls_port/domain and a certificate). Neither Usher
# nor `livekit-server --dev` has a TURN server; the SDK's own CI skips it too (CI=1).
#
# Exit status: 0 only if every selected test (and subtest) passed; a test that skips is
# counted as not passed, because every selected test must run against a properly
# configured server. The last line is "N passed, N failed, N skipped".
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SDK_MODULE=github.com/livekit/server-sdk-go/v2
# The SDK version Usher's go.mod requires (v2.19.0 when this was written); SDK_VERSION overrides.
SDK_VERSION=${SDK_VERSION:-$(cd "$REPO" && go list -m -f '{{.Version}}' "$SDK_MODULE" 2>/dev/null || echo v2.19.0)}
TIMEOUT=${SDKIT_TIMEOUT:-} # go test -timeout; default 3m for the whole run, 2m per test with --isolate
PORT=7880 # fixed by the SDK test (const host = "ws://localhost:7880")

reference=""
run_regex=""
race=""
with_force_tls=""
isolate=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reference) reference=$2; shift 2 ;;
    --run) run_regex=$2; shift 2 ;;
    --race) race="-race"; shift ;;
    --with-force-tls) with_force_tls=1; shift ;;
    --isolate) isolate=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The work directory (default: one per server kind, so a reference run does not overwrite
# Usher's logs).
WORK=${SDKIT_WORKDIR:-${TMPDIR:-/tmp}/usher-sdk-integration/$([ -n "$reference" ] && echo reference || echo usher)}

command -v curl >/dev/null || { echo "curl is needed to wait for the server" >&2; exit 2; }
if [ -n "$race" ] && ! command -v gcc >/dev/null; then
  echo "--race needs cgo and gcc (apt-get install gcc libc6-dev)" >&2; exit 2
fi

# One key for both servers; Usher outside --dev wants a secret of at least 32 characters.
API_KEY=sdkit
API_SECRET=usher-sdk-integration-secret-0123456789abcdef
export LIVEKIT_KEYS="$API_KEY: $API_SECRET"

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
if port_busy "$PORT"; then
  echo "127.0.0.1:$PORT is already in use; the SDK tests need that port (stop the other server first)" >&2
  exit 2
fi

# Only a directory this script made (it holds .sdkit) or an empty one is reused.
if [ -d "$WORK" ] && [ -n "$(ls -A "$WORK")" ] && [ ! -e "$WORK/.sdkit" ]; then
  echo "$WORK exists and was not made by this script; set SDKIT_WORKDIR elsewhere" >&2; exit 2
fi
rm -rf "$WORK"
mkdir -p "$WORK"
touch "$WORK/.sdkit"
echo "== work directory: $WORK"

# --- the SDK module, writable, with its own go.mod
MODDIR=$(cd "$REPO" && go env GOMODCACHE)/$SDK_MODULE@$SDK_VERSION
if [ ! -f "$MODDIR/integration_test.go" ]; then
  echo "== fetching $SDK_MODULE@$SDK_VERSION"
  (cd "$WORK" && go mod download "$SDK_MODULE@$SDK_VERSION")
fi
cp -r "$MODDIR" "$WORK/sdk"
chmod -R u+w "$WORK/sdk"
(cd "$WORK/sdk" && go mod download)

if [ -z "$TIMEOUT" ]; then
  TIMEOUT=$([ -n "$isolate" ] && echo 2m || echo 3m)
fi

# --- the tests to run: every top-level test of integration_test.go (but TestForceTLS)
if [ -z "$run_regex" ]; then
  tests=$(sed -n 's/^func \(Test[A-Za-z0-9_]*\)(t \*testing\.T).*/\1/p' "$WORK/sdk/integration_test.go")
  if [ -z "$with_force_tls" ]; then
    tests=$(echo "$tests" | grep -vx TestForceTLS)
  fi
  run_regex="^($(echo "$tests" | paste -sd'|'))\$"
fi
echo "== tests: $run_regex"

# Compile the test binary before any server starts, so a first build (minutes) does not
# count against anything the server times.
echo "== compiling the SDK tests"
(cd "$WORK/sdk" && go test $race -c -o "$WORK/lksdk.test" .)

if [ -z "$reference" ]; then
  echo "== building Usher from $REPO"
  (cd "$REPO" && go build $race -o "$WORK/usher" ./cmd/usher)
  server_name="Usher ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown))"
else
  [ -x "$reference" ] || { echo "--reference: $reference is not an executable" >&2; exit 2; }
  server_name="$("$reference" --version 2>/dev/null || echo "$reference")"
fi

# --- the server
server_pid=""
server_log=""
crashed=""
start_server() { # $1: log file
  server_log=$1
  if port_busy "$PORT"; then
    echo "127.0.0.1:$PORT is still in use" >&2; exit 2
  fi
  if [ -z "$reference" ]; then
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    local config="port: $PORT
bind_addresses: [127.0.0.1]
data_dir: $WORK/data
logging:
  level: debug
rtc:
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  udp_port: 7882
  tcp_port: 7881"
    echo "$config" >"$WORK/usher.yaml"
    "$WORK/usher" --config-body "$config" >"$server_log" 2>&1 &
    server_pid=$!
  else
    "$reference" --dev --node-ip 127.0.0.1 --bind 127.0.0.1 \
      --config-body 'rtc: {interfaces: {includes: [lo]}, enable_loopback_candidate: true}' \
      >"$server_log" 2>&1 &
    server_pid=$!
  fi
  local ready=""
  for _ in $(seq 1 150); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server exited at start:" >&2; tail -n 30 "$server_log" >&2; exit 2
    fi
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then ready=1; break; fi
    sleep 0.2
  done
  [ -n "$ready" ] || { echo "the server did not answer on :$PORT within 30 s" >&2; tail -n 30 "$server_log" >&2; exit 2; }
  echo "== server: $server_name, pid $server_pid, log $server_log"
}
stop_server() {
  if [ -n "$server_pid" ]; then
    if ! kill -0 "$server_pid" 2>/dev/null; then
      # it ended by itself while the tests ran
      wait "$server_pid" 2>/dev/null || true
      crashed+="$server_log "
      echo "!! the server (pid $server_pid) exited during the tests; end of $server_log:"
      grep -n -m1 -A 25 '^panic\|^fatal error' "$server_log" || tail -n 25 "$server_log"
    else
      kill -TERM "$server_pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$server_pid" 2>/dev/null || true
      wait "$server_pid" 2>/dev/null || true
    fi
  fi
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

status=0
run_tests() { # $1: -test.run regex, $2: test log (appended)
  set +e
  # CI set in the environment makes TestForceTLS skip itself; --with-force-tls means run it.
  local unset_ci=()
  [ -z "$with_force_tls" ] || unset_ci=(-u CI)
  (cd "$WORK/sdk" && env "${unset_ci[@]}" "$WORK/lksdk.test" -test.run "$1" -test.count=1 -test.v \
    -test.timeout "$TIMEOUT") 2>&1 | tee -a "$2"
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || status=$rc
}

# go test -run splits its pattern at '/': the first part picks top-level tests, the
# rest their subtests.
top=${run_regex%%/*}
sub=""
[ "$top" = "$run_regex" ] || sub="/${run_regex#*/}"
"$WORK/lksdk.test" -test.list "$top" | grep '^Test' >"$WORK/selected.txt" || true
if [ ! -s "$WORK/selected.txt" ]; then
  echo "no test matches $run_regex" >&2; exit 2
fi

: >"$WORK/test.log"
echo "== running the SDK integration tests (log $WORK/test.log)"
if [ -z "$isolate" ]; then
  start_server "$WORK/server.log"
  run_tests "$run_regex" "$WORK/test.log"
  stop_server
else
  mapfile -t selected <"$WORK/selected.txt"
  for t in "${selected[@]}"; do
    start_server "$WORK/server-$t.log"
    run_tests "^$t\$$sub" "$WORK/test.log"
    stop_server
  done
fi

# --- one line per test and subtest
echo
echo "== results against $server_name$([ -n "$isolate" ] && echo ', a fresh server per test')"
awk '
  FNR == NR { selected[++ns] = $1; next }
  /^=== RUN / { if (!($3 in started)) { started[$3] = 1; order[++n] = $3 } next }
  /^ *--- (PASS|FAIL|SKIP): / {
    r = $2; sub(":", "", r)
    result[$3] = r; took[$3] = $4
    match($0, /^ */); indent[$3] = RLENGTH # go test indents a subtest 4 spaces a level
    next
  }
  function show(name, r, note,   pad) {
    # a test without a result line: indented by the slashes in its name
    pad = (name in indent) ? indent[name] : 4 * gsub("/", "/", name)
    printf "%-4s %" pad "s%s %s\n", r, "", name, note
    count[r]++
  }
  END {
    # in the order the tests started; a test that started but never reported (a panic,
    # the -timeout) did not pass, nor did a selected test that never started (an
    # earlier one stopped the test binary)
    for (i = 1; i <= n; i++) {
      t = order[i]
      if (t in result) show(t, result[t], took[t])
      else show(t, "FAIL", "(no result: panic or timeout)")
    }
    for (i = 1; i <= ns; i++) if (!(selected[i] in started)) show(selected[i], "FAIL", "(not run: the test binary stopped before it)")
    printf "%d passed, %d failed, %d skipped\n", count["PASS"], count["FAIL"], count["SKIP"]
  }' "$WORK/selected.txt" "$WORK/test.log" >"$WORK/summary.txt"
# the first failed assertion of each test: where, and what (testify's report)
awk '
  function emit() {
    if (inerr && t != "" && !(t in first)) {
      first[t] = 1
      printf "     %s  %s: %s%s\n", t, loc, what, (msg != "" ? " (" msg ")" : "")
    }
    inerr = 0; t = ""; field = ""
  }
  function rest(line) { sub(/^[ \t]*[A-Za-z ]+:[ \t]*/, "", line); return line }
  /^[ \t]*Error Trace:/ { emit(); loc = $NF; sub(/.*\//, "", loc); what = ""; msg = ""; inerr = 1; next }
  inerr && /^[ \t]*Error:/ { what = rest($0); field = "error"; next }
  inerr && /^[ \t]*Test:/ { t = rest($0); field = ""; next }
  inerr && /^[ \t]*Messages:/ { msg = rest($0); field = ""; next }
  inerr && /^ +\t/ {
    if (field == "error" && (what == "" || what ~ /:$/)) { line = $0; sub(/^[ \t]*/, "", line); what = what " " line }
    next
  }
  inerr { emit() }
  END { emit() }' "$WORK/test.log" >"$WORK/assertions.txt"
# a test stopped by -timeout: the innermost running test, and where the test's own
# goroutines were waiting
awk '
  /^panic: test timed out/ { dump = 1; next }
  dump && /^\trunning tests:/ { running = 1; next }
  dump && running && /^\t\t/ { name = $0; sub(/^\t\t/, "", name); next }
  running { running = 0; printf "     %s  timed out", name; timedout = 1 }
  dump && /^github.com\/livekit\/server-sdk-go\/v2\.Test[A-Za-z0-9_]*\.func/ { frame = 1; next }
  dump && frame && /integration_test.go:/ { loc = $1; sub(/.*\//, "", loc); printf ", waiting at %s", loc; frame = 0; next }
  { frame = 0 }
  END { if (timedout) printf "\n" }' "$WORK/test.log" >>"$WORK/assertions.txt"
if [ -s "$WORK/assertions.txt" ]; then
  echo "first failed assertion of each failing test:"
  cat "$WORK/assertions.txt"
  echo
fi
if [ -n "$crashed" ]; then
  echo "!! the server exited during the tests (see: $crashed)"
fi
races=$(cat "$WORK"/server*.log | grep -c 'WARNING: DATA RACE' || true)
if [ "$races" -gt 0 ]; then
  echo "!! the race detector reported $races data race(s) in the server: grep -n 'DATA RACE' $WORK/server*.log"
fi
echo "(logs in $WORK: test.log, server*.log)"
cat "$WORK/summary.txt"

summary=$(tail -n 1 "$WORK/summary.txt")
passed=$(echo "$summary" | awk '{print $1}')
failed=$(echo "$summary" | awk '{print $3}')
skipped=$(echo "$summary" | awk '{print $5}')
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ] || [ -n "$crashed" ] || [ "$races" -gt 0 ]; then
  exit 1
fi

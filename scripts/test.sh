#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing, then runs the
# format and vet checks, the linter, every test with the race detector, and each fuzz
# target briefly (FUZZTIME, default 10s; FUZZTIME=0 skips fuzzing for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0
FUZZTIME=${FUZZTIME:-10s}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
  fi
}

# -race needs cgo and a C compiler.
command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev

# The browser media test (test/browser_test.go) drives Debian's Chromium with the npm
# packages pinned in test/browser (playwright-core, livekit-client); Node.js runs them.
command -v node >/dev/null 2>&1 || apt_install nodejs npm
command -v npm >/dev/null 2>&1 || apt_install npm
apt_install chromium
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $(node --version) is too old for test/browser (playwright-core needs 20 or newer)"; exit 1
fi
# npm ci again only when the lockfile changed since the last install.
if ! cmp -s test/browser/package-lock.json test/browser/node_modules/.usher-installed-lock; then
  echo "installing test/browser's npm packages (npm ci)"
  (cd test/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.usher-installed-lock)
fi
# The host-controls wrapper (clients/js): its pinned packages, then its build to
# clients/js/dist, which test/hostcontrols_browser_test.go serves to Chromium; then its
# unit tests (node's test runner, against a fake room).
if ! cmp -s clients/js/package-lock.json clients/js/node_modules/.usher-installed-lock; then
  echo "installing clients/js's npm packages (npm ci)"
  (cd clients/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.usher-installed-lock)
fi
echo "== clients/js: build and unit tests"
(cd clients/js && rm -rf dist && npm run --silent build && npm test --silent)

GOBIN_DIR=$(go env GOPATH)/bin
LINT="$GOBIN_DIR/golangci-lint"
if ! "$LINT" version 2>/dev/null | grep -q "${GOLANGCI_LINT_VERSION#v}"; then
  echo "installing golangci-lint $GOLANGCI_LINT_VERSION"
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi

go version
go mod download

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== golangci-lint"
"$LINT" run ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== the official Go SDK's integration tests against Usher"
./scripts/sdk-integration.sh

# Every fuzz target: package and name. A target added without a line here fails below.
FUZZ_TARGETS=(
  "./internal/auth FuzzVerify"
  "./internal/api/twirp FuzzTwirp"
  "./internal/api/twirp FuzzTwirpToken"
  "./internal/api/twirp FuzzModeration"
  "./internal/api/twirp FuzzPresetsRequest"
  "./internal/host FuzzHandle"
  "./internal/api/twirp FuzzHostControlsService"
  "./internal/api/twirp FuzzWaitingRoomService"
  "./internal/api/twirp FuzzWebhooksService"
  "./internal/config FuzzMerge"
  "./internal/api/rest FuzzRESTDecode"
  "./internal/api/rest FuzzRESTAuditQuery"
  "./internal/api/twirp FuzzAuditRequest"
  "./test FuzzRESTTenantIsolation"
  "./internal/signal FuzzSignalFrame"
  "./internal/signal FuzzJoinParams"
  "./internal/signal FuzzSignalBounds"
  "./internal/signal FuzzDataPacket"
  "./internal/rtc FuzzSendingTracks"
)
declared=$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)\(' --include='*_test.go' . | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort)
listed=$(printf '%s\n' "${FUZZ_TARGETS[@]}" | awk '{print $2}' | sort)
if [ "$declared" != "$listed" ]; then
  echo "fuzz targets in the code and in FUZZ_TARGETS differ:"
  diff <(echo "$declared") <(echo "$listed") || true
  exit 1
fi
if [ "$FUZZTIME" != "0" ]; then
  for target in "${FUZZ_TARGETS[@]}"; do
    read -r pkg name <<<"$target"
    echo "== fuzz $name ($pkg, $FUZZTIME)"
    # A short minimization keeps a large interesting input from stalling the run.
    # Go's fuzzing engine sometimes fails a run with only "context deadline exceeded"
    # when a loaded machine keeps a worker from stopping in time; that run found
    # nothing (a finding writes its failing input), so it is run once more. Any other
    # failure fails the suite.
    log=$(mktemp)
    if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$log"; then
      if grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
        echo "== fuzz $name: the engine timed out stopping its workers (nothing found); running it again"
        go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg"
      else
        rm -f "$log"
        exit 1
      fi
    fi
    rm -f "$log"
  done
fi
echo "all tests passed"

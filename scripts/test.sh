#!/usr/bin/env bash
# Runs every test of prtracker, on a fresh machine too: builds the test control plane if it is not
# cached, checks formatting and lints, runs the whole workspace's tests, then fuzzes the parsers
# (which needs the nightly toolchain: rustup toolchain install nightly --profile minimal).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is missing; install Rust with rustup (https://rustup.rs) and run scripts/test.sh again" >&2
  exit 1
fi

# The fuzzing step at the end needs the nightly toolchain: say so now, not after the whole suite.
if ! RUSTUP_AUTO_INSTALL=0 cargo +nightly --version >/dev/null 2>&1; then
  echo "error: the nightly toolchain is missing (scripts/fuzz.sh needs it): rustup toolchain install nightly --profile minimal" >&2
  exit 1
fi

# The PR page tests look at the simulator's pages in headless Chromium (crates/github-sim/tests/
# pr_page.rs) and fail without it; install Debian's when we can, as build-control-plane.sh does Go.
if ! command -v "${PRTRACKER_CHROMIUM:-chromium}" >/dev/null 2>&1 &&
   ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    echo "Chromium is missing: installing Debian's chromium for the PR page tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
  else
    echo "warning: Chromium is missing, so the PR page tests will fail: as root, apt-get install -y chromium fonts-dejavu-core fonts-noto-color-emoji" >&2
    echo "         (or set PRTRACKER_CHROMIUM to a Chromium binary)" >&2
  fi
fi

started=$(date +%s)
PRTRACKER_CONTROL_PLANE_DIR=$(scripts/build-control-plane.sh --with-helm --with-kustomize)
export PRTRACKER_CONTROL_PLANE_DIR
echo "control plane: $PRTRACKER_CONTROL_PLANE_DIR (ready after $(( $(date +%s) - started ))s)"

# Real GitHub responses, third-party data kept beside the repository, never copied into it.
# Tests that read them are named fixture_*; without the folder they are skipped here, and said so.
fixtures=${PRTRACKER_GITHUB_FIXTURES:-$(cd .. && pwd)/shared/github-fixtures}
fixture_note=
test_filter=()
if [[ -d $fixtures ]]; then
  export PRTRACKER_GITHUB_FIXTURES=$fixtures
else
  fixture_note="NOTE: $fixtures is absent: the GitHub fixture conformance tests (fixture_*) did not run."
  echo "$fixture_note"
  test_filter=(-- --skip fixture_)
fi

# The shipped binary leaves the demo and the dev tools out; the tests run the development build
# (`--features prtracker/dev`), and clippy checks both.
# One build, run once: incremental state would only take disk (tens of GB over many runs).
export CARGO_INCREMENTAL=0
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --locked --features prtracker/dev -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --features prtracker/dev "${test_filter[@]}" 2>&1 | tee "$log"
# Fuzzing of what comes from outside (webhook bodies, manifests, labels, Link, durations): each
# target for PRTRACKER_FUZZ_SECONDS (30 s); a crash fails the run (scripts/fuzz.sh says more).
scripts/fuzz.sh
# One closing line for the whole workspace: cargo prints one per test binary, the last often a doc-test
# run with nothing in it.
echo "scripts/test.sh finished in $(( $(date +%s) - started ))s"
[[ -z $fixture_note ]] || echo "$fixture_note"
# Skipped: the ignored tests and those filtered out (the fixture_* tests when their folder is
# absent; a run without a filter filters out none), the latter found by the words "filtered out".
awk '/^test result:/ {
       passed += $4; failed += $6; skipped += $8
       for (i = 2; i < NF; i++) if ($i == "filtered" && $(i + 1) ~ /^out/) skipped += $(i - 1)
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped }' "$log"

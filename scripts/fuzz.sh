#!/usr/bin/env bash
# Fuzzes what prtracker reads from outside, each target for a bounded time, and fails on a crash:
#   webhook    a delivery's body (JSON or form-encoded) read into a pull_request event
#   manifests  a manifest file read as YAML and as JSON into the objects a drift check compares
#   labels     a PR's state read from its labels, and the label change that cleans them up
#   link       GitHub's Link header (pagination)
#   duration   Go durations (a DriftMonitor's interval, the operator's duration flags)
# Each target checks properties of what it reads, not only that nothing panics (fuzz/fuzz_targets).
#
# Usage: scripts/fuzz.sh [TARGET...]   (all targets without one)
#   PRTRACKER_FUZZ_SECONDS   time per target (default 30)
#   PRTRACKER_FUZZ_JOBS      targets fuzzed at once (default: the number of cores, at most 4)
#   PRTRACKER_FUZZ_TIMEOUT   seconds one input may take before it counts as a crash (default 20)
#   PRTRACKER_FUZZ_SANITIZER none (default) or address
#   PRTRACKER_FUZZ_TARGET_DIR  where to build (default fuzz/target)
#   PRTRACKER_GITHUB_FIXTURES  real GitHub responses that seed the corpora (default
#                            ../shared/github-fixtures); read at run time into a temporary
#                            directory, never copied into the repository
# The fuzz crate is its own workspace (fuzz/), built by cargo-fuzz with the nightly toolchain into
# fuzz/target; a crashing input is saved under fuzz/artifacts/TARGET/ (both git-ignored). Replay
# one with `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

all_targets=(webhook manifests labels link duration)
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
seconds=${PRTRACKER_FUZZ_SECONDS:-30}
timeout=${PRTRACKER_FUZZ_TIMEOUT:-20}
cores=$(nproc 2>/dev/null || echo 2)
jobs=${PRTRACKER_FUZZ_JOBS:-$((cores < 4 ? cores : 4))}
fixtures=${PRTRACKER_GITHUB_FIXTURES:-$(cd .. && pwd)/shared/github-fixtures}
for target in "${targets[@]}"; do
  if [[ ! " ${all_targets[*]} " =~ " $target " ]]; then
    echo "error: unknown fuzz target $target (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done
for number in "$seconds" "$timeout" "$jobs"; do
  if [[ ! $number =~ ^[1-9][0-9]*$ ]]; then
    echo "error: PRTRACKER_FUZZ_SECONDS, _TIMEOUT and _JOBS are whole numbers of at least 1" >&2
    exit 2
  fi
done
# The same build options for `build` and `run`, so that `run` does not build again. No sanitizer by
# default: the code fuzzed forbids unsafe code, and AddressSanitizer costs 3 to 7 times the
# executions (and 10 times the memory) in a short run; PRTRACKER_FUZZ_SANITIZER=address for a
# long one, which also watches the unsafe code of serde_json and unsafe-libyaml.
build_options=(--sanitizer "${PRTRACKER_FUZZ_SANITIZER:-none}")
if [[ -n ${PRTRACKER_FUZZ_TARGET_DIR:-} ]]; then
  build_options+=(--target-dir "$PRTRACKER_FUZZ_TARGET_DIR")
fi
# The nightly toolchain, never installed behind the user's back.
export RUSTUP_AUTO_INSTALL=0
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "error: fuzzing needs the nightly toolchain: rustup toolchain install nightly --profile minimal" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seed corpora: ours (fuzz/seeds/TARGET, committed) and, built here from the fixtures, real GitHub
# data. libFuzzer reads every directory given and writes what it finds to the first ($work/found).
seed() { # seed TARGET NAME < content
  cat >"$work/seeds/$1/$2"
}
for target in "${all_targets[@]}"; do
  mkdir -p "$work/seeds/$target" "$work/found/$target"
done
if [[ -d $fixtures ]]; then
  shopt -s nullglob
  for file in "$fixtures"/webhook-*.json; do
    name=$(basename "$file" .json)
    # As GitHub sends it with either content type; and its labels as a label list.
    seed webhook "$name.json" <"$file"
    { printf 'payload='; perl -0777 -pe 's/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord($1))/ge' "$file"; } |
      seed webhook "$name.form"
  done
  for file in "$fixtures"/pull-request-*.json; do
    # A pull request as the API returns it, wrapped in a delivery.
    { printf '{"action":"edited","number":1,"repository":{"full_name":"octo-org/repo"},"pull_request":'
      cat "$file"; printf '}'; } | seed webhook "delivery-$(basename "$file")"
  done
  for file in "$fixtures"/*.json; do
    # Real JSON documents, read as manifest files (YAML and JSON); the largest only slow it down.
    if (($(wc -c <"$file") <= 32768)); then
      seed manifests "$(basename "$file")" <"$file"
    fi
  done
  for file in "$fixtures"/*label*.json "$fixtures"/webhook-pull_request-*.json "$fixtures"/pull-request-*.json; do
    # Real label names, among state labels, for each state of the PR.
    names=$(grep -o '"name": *"[^"]*"' "$file" | sed 's/^"name": *"//; s/"$//' | head -n 200 || true)
    [[ -n $names ]] || continue
    for facts in "" d c m; do
      printf 'state/\n%s\n%s\nstate/approved\nstate/open\n' "$facts" "$names" |
        seed labels "$(basename "$file" .json)-$facts"
    done
  done
  for file in "$fixtures"/*headers*.txt; do
    # Every Link header recorded.
    n=0
    while IFS= read -r link; do
      n=$((n + 1))
      printf '%s' "$link" | seed link "$(basename "$file" .txt)-$n"
    done < <(grep -i '^link:' "$file" | sed 's/^[Ll]ink: *//; s/\r$//' || true)
  done
  shopt -u nullglob
  fixture_note=
else
  fixture_note="NOTE: $fixtures is absent: the corpora were seeded from fuzz/seeds only."
  echo "$fixture_note"
fi
for target in "${all_targets[@]}"; do
  echo "seeds for $target: $(find "$work/seeds/$target" -type f | wc -l) from the fixtures," \
    "$(find "fuzz/seeds/$target" -type f | wc -l) of ours"
done

cargo fmt --manifest-path fuzz/Cargo.toml -- --check
# The lock file is committed: refuse to change it, as the main workspace's --locked does.
cargo +nightly metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
build_started=$(date +%s)
cargo +nightly fuzz build "${build_options[@]}"
echo "fuzz build: $(($(date +%s) - build_started))s"

fuzz() { # fuzz TARGET: libFuzzer's output in $work/TARGET.log, its exit status in $work/TARGET.status
  local target=$1 status=0
  mkdir -p "fuzz/artifacts/$target"
  cargo +nightly fuzz run "${build_options[@]}" "$target" \
    "$work/found/$target" "$work/seeds/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$work/$target.log" 2>&1 || status=$?
  echo "$status" >"$work/$target.status"
}
final_stat() { # final_stat TARGET NAME: one of libFuzzer's final statistics
  awk -v name="stat::$2:" '$1 == name { value = $2 } END { print value + 0 }' "$work/$1.log"
}

running=0
for target in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzzing $target for ${seconds}s"
  fuzz "$target" &
  running=$((running + 1))
done
wait

failed=()
for target in "${targets[@]}"; do
  status=$(cat "$work/$target.status")
  printf 'fuzz %-9s %10d executions (%d/s), %d new inputs, peak %d MB: ' "$target" \
    "$(final_stat "$target" number_of_executed_units)" "$(final_stat "$target" average_exec_per_sec)" \
    "$(final_stat "$target" new_units_added)" "$(final_stat "$target" peak_rss_mb)"
  if [[ $status == 0 ]]; then
    echo "no crash"
  else
    echo "FAILED (exit $status)"
    failed+=("$target")
  fi
done
for target in "${failed[@]}"; do
  # What failed and where the input is, without cargo-fuzz's dump of the whole input.
  echo "---- $target"
  awk '/panicked at|^==[0-9]+== ?ERROR|^SUMMARY:/ { show = 4 }
       /Test unit written to|^Base64:/ { print; next }
       show > 0 { print; show-- }' "$work/$target.log" | cut -c1-400 | head -n 40
  echo "replay: cargo +nightly fuzz run ${build_options[*]} $target fuzz/artifacts/$target/<crash-file>"
done
echo "scripts/fuzz.sh finished in $(($(date +%s) - started))s"
[[ -z $fixture_note ]] || echo "$fixture_note"
if ((${#failed[@]} > 0)); then
  echo "fuzzing failed: ${failed[*]}; the crashing inputs are under fuzz/artifacts/" >&2
  exit 1
fi

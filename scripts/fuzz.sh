#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (see fuzz/README.md), one after another, one job each.
#   scripts/fuzz.sh [TARGET...]             build, then run each target for $FUZZ_SECONDS on fuzz/corpus/TARGET
#   scripts/fuzz.sh --minimize [TARGET...]  build, then `cargo fuzz cmin` each committed corpus (no fuzzing)
#   scripts/fuzz.sh --seed                  add seed inputs from the repository's real inputs (fuzz/seed.py)
#   scripts/fuzz.sh --list                  print the target names
# Environment: FUZZ_SECONDS (60) per target, FUZZ_RSS_MB (2048), FUZZ_TIMEOUT (10, seconds per input),
# FUZZ_MAX_LEN (per target by default), FUZZ_SANITIZER (address, or none).
# New inputs that add coverage are written into fuzz/corpus/TARGET: minimise before committing them.
# Crash, timeout and OOM inputs go to fuzz/artifacts/TARGET/ (not committed); the script then exits 1.
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets it take the nightly flags cargo-fuzz passes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"
sanitizer="${FUZZ_SANITIZER:-address}"
all_targets=(inbound template definitions_yaml definitions_json)
logs="$root/fuzz/target/logs"

# Inputs longer than this are not generated: SNS messages may be 256 KiB, but the parsers' paths are
# reached by far shorter inputs, and shorter inputs run many times faster.
max_len_of() {
  if [ -n "${FUZZ_MAX_LEN:-}" ]; then
    echo "$FUZZ_MAX_LEN"
    return
  fi
  case "$1" in
    inbound) echo 65536 ;;
    template) echo 16384 ;;
    *) echo 32768 ;;
  esac
}

# The libFuzzer dictionary of a target (format keys and syntax tokens), in fuzz/dicts/.
dict_of() {
  case "$1" in
    definitions_*) echo fuzz/dicts/definitions.dict ;;
    *) echo "fuzz/dicts/$1.dict" ;;
  esac
}

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}

build() {
  echo "==> building the fuzz targets (sanitizer: $sanitizer)"
  cargo fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer"
}

# libFuzzer's final statistic NAME from LOG (empty when absent).
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

findings_in() { find "fuzz/artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null | sort; }

run_target() {
  local target=$1 log="$logs/$1.log" before after new
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" "$logs"
  before=$(findings_in "$target")
  echo "==> fuzzing $target for ${seconds}s (log: ${log#"$root"/})"
  local status=0 dict=() started=$SECONDS
  [ -f "$(dict_of "$target")" ] && dict=(-dict="$(dict_of "$target")")
  cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "fuzz/corpus/$target" -- \
    "${dict[@]}" -max_total_time="$seconds" -max_len="$(max_len_of "$target")" -rss_limit_mb="$rss_mb" \
    -timeout="$timeout_s" -print_final_stats=1 >"$log" 2>&1 || status=$?
  local elapsed=$((SECONDS - started))
  after=$(findings_in "$target")
  new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
  local runs rate added files
  runs=$(stat number_of_executed_units "$log")
  rate=$(stat average_exec_per_sec "$log")
  added=$(stat new_units_added "$log")
  files=$(find "fuzz/corpus/$target" -type f | wc -l)
  local found="none"
  if [ -n "$new" ]; then
    found="$(echo "$new" | wc -l) new: $(echo "$new" | tr '\n' ' ')"
  elif [ "$status" -ne 0 ]; then
    found="fuzzer exited $status (see the log)"
  fi
  printf '%-18s %6ss %12s %8s %8s %8s  %s\n' "$target" "$elapsed" "${runs:-?}" "${rate:-?}" "${added:-?}" "$files" "$found" >>"$logs/summary"
  if [ -n "$new" ] || [ "$status" -ne 0 ]; then
    grep -E 'panicked at|^(SUMMARY|==[0-9]+== ?ERROR)' "$log" | head -5 || true
    return 1
  fi
}

minimize_target() {
  local target=$1 before after
  before=$(find "fuzz/corpus/$target" -type f | wc -l)
  echo "==> minimising fuzz/corpus/$target ($before files)"
  # `-use_counters=0`: keep the inputs that reach new edges, not every new hit count of an edge; the
  # corpus is about four times smaller with the same edge coverage, and fuzzing rebuilds the rest.
  cargo fuzz cmin --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "fuzz/corpus/$target" -- \
    -use_counters=0 -max_len="$(max_len_of "$target")" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
    >"$logs/$target.cmin.log" 2>&1
  after=$(find "fuzz/corpus/$target" -type f | wc -l)
  echo "    $before -> $after files, $(cat "fuzz/corpus/$target"/* | wc -c) bytes"
}

mode=run
targets=()
for arg in "$@"; do
  case "$arg" in
    --minimize | --minimise) mode=minimize ;;
    --seed) mode=seed ;;
    --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $arg" >&2; exit 2 ;;
    *)
      if [[ " ${all_targets[*]} " != *" $arg "* ]]; then
        echo "fuzz.sh: unknown target $arg (known: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$arg")
      ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if [ "$mode" = seed ]; then
  exec python3 fuzz/seed.py
fi

ensure_cargo_fuzz
build
mkdir -p "$logs"

if [ "$mode" = minimize ]; then
  for target in "${targets[@]}"; do minimize_target "$target"; done
  echo "corpus: $(find fuzz/corpus -type f | wc -l) files, $(find fuzz/corpus -type f -exec cat {} + | wc -c) bytes"
  exit 0
fi

printf '%-18s %7s %12s %8s %8s %8s  %s\n' target time executions exec/s new corpus findings >"$logs/summary"
failed=0
for target in "${targets[@]}"; do
  run_target "$target" || failed=1
done
echo
cat "$logs/summary"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings above; reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz TARGET fuzz/artifacts/TARGET/FILE" >&2
  exit 1
fi
echo "fuzz: no crash, timeout or OOM"

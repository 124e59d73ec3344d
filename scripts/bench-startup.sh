#!/usr/bin/env bash
# Cold start and artefact size of every function (issue 4, parts 3 and 4).
#
#   scripts/bench-startup.sh                 build, cold start, size (everything but `profiles`)
#   scripts/bench-startup.sh coldstart [N]   release x86_64 build, then N (30) cold starts of every
#                                            function and of the Python + boto3 peer, interleaved;
#                                            laziness checks; warm invocations of notify-webhook
#   scripts/bench-startup.sh size            `cargo lambda build --release --arm64`, bootstrap and zip sizes
#   scripts/bench-startup.sh profiles [N]    the release profile and its alternatives: x86_64 build of
#                                            each (slow: a full release build each), size, cold start
#                                            and warm invocation, interleaved in one run
#
# Sourcing the file defines the functions only (scripts/bench.sh calls them):
#   startup_env, startup_functions, startup_build_native, startup_coldstart, startup_build_arm64,
#   startup_size, startup_profiles.
# Figures go to stdout; JSON copies to $BENCH_OUT (default target/bench).
# Nothing here asserts a speed: the figures are printed; the script fails only when a function makes
# a network call before its first /next or a build fails.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_OUT=${BENCH_OUT:-$root/target/bench}

# .venv with boto3 (moto brings it) and cargo-lambda (brings zig); the machine's figures.
startup_env() {
  "$root/scripts/local-stack.sh" venv
  if [ ! -x "$root/.venv/bin/cargo-lambda" ]; then
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda
  fi
  mkdir -p "$BENCH_OUT"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -h | awk '/Mem:/ {print $2}') memory; $(uname -sr)"
  echo "toolchain: $(rustc --version); $("$root/.venv/bin/cargo-lambda" lambda --version); python $("$root/.venv/bin/python" -c 'import sys, boto3; print(sys.version.split()[0], "boto3", boto3.__version__)')"
}

# Every function crate: functions/notify-*.
startup_functions() {
  (cd "$root/functions" && for dir in notify-*/; do echo "${dir%/}"; done)
}

# `-p notify-email -p notify-webhook …`
startup_packages() {
  local fn
  for fn in $(startup_functions); do printf -- '-p %s ' "$fn"; done
}

# Release x86_64 bootstraps in target/release/ (the profile of the root Cargo.toml, or the
# CARGO_PROFILE_RELEASE_* overrides in the environment).
startup_build_native() {
  # shellcheck disable=SC2046
  (cd "$root" && cargo build --release --quiet $(startup_packages))
}

# Cold start of every function and of the Python + boto3 peer (same harness, same run).
startup_coldstart() {
  local runs=${1:-30} options=() subjects=() fn
  for fn in $(startup_functions); do
    subjects+=("$fn=$root/target/release/$fn")
    options+=(--control "$fn")
  done
  subjects+=("python-boto3=$root/.venv/bin/python $root/scripts/coldstart_peer.py")
  if command -v strace >/dev/null; then options+=(--strace); fi
  "$root/.venv/bin/python" "$root/scripts/coldstart.py" --runs "$runs" "${options[@]}" \
    --invoke notify-webhook=200 --json "$BENCH_OUT/coldstart.json" "${subjects[@]}"
}

# Release arm64 bootstraps in target/lambda/<fn>/bootstrap (cargo-lambda, zig).
startup_build_arm64() {
  # shellcheck disable=SC2046
  (cd "$root" && PATH="$root/.venv/bin:$PATH" cargo lambda build --release --arm64 $(startup_packages))
}

# Bytes of a file and of its deflate zip (as `sam build` packages it), one line per file:
# `<label> <file bytes> <zip bytes>`.
startup_zip_sizes() {
  "$root/.venv/bin/python" - "$@" <<'PY'
import os, sys, tempfile, zipfile
for spec in sys.argv[1:]:
    label, path = spec.split("=", 1)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bootstrap.zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
        print(label, os.path.getsize(path), os.path.getsize(out))
PY
}

# Sizes of the arm64 bootstraps and their zips; target: zip <= 5 MB each.
startup_size() {
  local fn specs=()
  for fn in $(startup_functions); do specs+=("$fn=$root/target/lambda/$fn/bootstrap"); done
  echo "arm64 bootstrap sizes (bytes; MB = 10^6 bytes):"
  startup_zip_sizes "${specs[@]}" | tee "$BENCH_OUT/size.txt" | while read -r label bin zip; do
    printf '  %-16s bootstrap %9d (%.2f MB)  zip %9d (%.2f MB)  %s\n' "$label" "$bin" \
      "$(echo "$bin / 1000000" | bc -l)" "$zip" "$(echo "$zip / 1000000" | bc -l)" \
      "$([ "$zip" -le 5000000 ] && echo '<= 5 MB' || echo 'OVER 5 MB')"
  done
}

# Profile alternatives, as CARGO_PROFILE_RELEASE_* overrides of the root [profile.release].
STARTUP_PROFILES=(
  "current="
  "opt-3=CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
  "lto-fat=CARGO_PROFILE_RELEASE_LTO=fat"
)

# Builds each profile (x86_64; a full release build each), keeps its bootstraps in
# target/bench-profiles/<profile>/, then measures size, cold start and warm invocation of all of
# them in one interleaved run. `STARTUP_SKIP_BUILD=1` reuses the kept bootstraps.
startup_profiles() {
  local runs=${1:-30} entry name overrides fn dir specs=() args=()
  for entry in "${STARTUP_PROFILES[@]}"; do
    name=${entry%%=*} overrides=${entry#*=}
    dir="$root/target/bench-profiles/$name"
    if [ -z "${STARTUP_SKIP_BUILD:-}" ]; then
      echo "building profile $name (${overrides:-root Cargo.toml})" >&2
      (if [ -n "$overrides" ]; then export "${overrides?}"; fi; startup_build_native)
      mkdir -p "$dir"
      for fn in $(startup_functions); do cp "$root/target/release/$fn" "$dir/$fn"; done
    fi
    for fn in $(startup_functions); do
      specs+=("$fn:$name=$dir/$fn")
      args+=("$fn:$name=$dir/$fn")
    done
  done
  echo "x86_64 bootstrap sizes per profile (bytes):"
  startup_zip_sizes "${specs[@]}" | tee "$BENCH_OUT/profiles-size.txt" | while read -r label bin zip; do
    printf '  %-28s bootstrap %9d  zip %9d\n' "$label" "$bin" "$zip"
  done
  local invoke=()
  for entry in "${STARTUP_PROFILES[@]}"; do invoke+=(--invoke "notify-webhook:${entry%%=*}=300"); done
  "$root/.venv/bin/python" "$root/scripts/coldstart.py" --runs "$runs" "${invoke[@]}" \
    --json "$BENCH_OUT/profiles.json" "${args[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-all}" in
    all)
      startup_env
      startup_build_native
      startup_coldstart "${2:-30}"
      startup_build_arm64
      startup_size
      ;;
    coldstart) startup_env; startup_build_native; startup_coldstart "${2:-30}" ;;
    size) startup_env; startup_build_arm64; startup_size ;;
    profiles) startup_env; startup_profiles "${2:-30}" ;;
    *) echo "usage: $0 [all|coldstart [RUNS]|size|profiles [RUNS]]" >&2; exit 2 ;;
  esac
fi

#!/usr/bin/env bash
# Checks the deploy build as on a fresh machine: clones this repository's HEAD (committed work only)
# into a temporary folder, gives the build a rustup home without the aarch64-unknown-linux-gnu target
# (a copy of the active toolchain, that target taken out), runs scripts/deploy-build.sh in the clone,
# checks that every function has an arm64 bootstrap, and reports the result and the duration.
#
#   scripts/check-deploy.sh [--keep]   --keep: leave the temporary folder (clone, build, log) in place
#
# Not part of `make test`: it compiles every function for release on arm64 from nothing (tens of
# minutes on 2 cores) and downloads the target. README's "Deploying" says when it last ran.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=aarch64-unknown-linux-gnu
keep=false
[ "${1:-}" = "--keep" ] && keep=true

work=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-check-deploy.XXXXXX")
cleanup() {
  if [ "$keep" = true ]; then
    echo "check-deploy: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

commit=$(git -C "$root" rev-parse --short HEAD)
if [ -n "$(git -C "$root" status --porcelain)" ]; then
  echo "check-deploy: note: uncommitted changes are not part of the check (it clones $commit)"
fi
git clone --quiet --no-hardlinks "$root" "$work/tocsin"

# A rustup home like a fresh machine's: the active toolchain only, without the arm64 target.
source_home=${RUSTUP_HOME:-$HOME/.rustup}
toolchain=$(cd "$work/tocsin" && rustup show active-toolchain | cut -d' ' -f1)
mkdir -p "$work/rustup/toolchains"
cp -a "$source_home/settings.toml" "$work/rustup/"
cp -a "$source_home/toolchains/$toolchain" "$work/rustup/toolchains/"
rustlib="$work/rustup/toolchains/$toolchain/lib/rustlib"
rm -rf "${rustlib:?}/$target" "$rustlib/manifest-rust-std-$target"
if [ -f "$rustlib/components" ]; then
  sed -i "/^rust-std-$target\$/d" "$rustlib/components"
fi
export RUSTUP_HOME="$work/rustup" RUSTUP_TOOLCHAIN="$toolchain"
if rustup target list --installed | grep -qx "$target"; then
  echo "check-deploy: could not take $target out of the copied toolchain" >&2
  exit 1
fi

echo "check-deploy: deploy build of $commit in $work/tocsin (toolchain $toolchain, without $target); log: $work/deploy-build.log"
started=$(date +%s)
status=0
(cd "$work/tocsin" && bash scripts/deploy-build.sh) >"$work/deploy-build.log" 2>&1 || status=$?
seconds=$(($(date +%s) - started))

# Every function of the template has a bootstrap, and it is an arm64 (EM_AARCH64 = 183) ELF file.
missing=()
for function in $(grep -oE '^  Notify[A-Za-z]+Function:' "$work/tocsin/infra/template.yaml" | tr -d ' :'); do
  bootstrap="$work/tocsin/infra/.aws-sam/build/$function/bootstrap"
  machine=$(od -An -tu2 -j18 -N2 "$bootstrap" 2>/dev/null | tr -d ' ' || true)
  if [ "$machine" != 183 ]; then
    missing+=("$function")
  fi
done

if [ "$status" -eq 0 ] && [ "${#missing[@]}" -eq 0 ]; then
  echo "check-deploy: ok: the deploy build of $commit from a clean clone, without $target installed beforehand, took $seconds s"
else
  tail -n 40 "$work/deploy-build.log"
  echo "check-deploy: FAILED after $seconds s (exit $status; no arm64 bootstrap for: ${missing[*]:-none missing})"
  keep=true
  exit 1
fi

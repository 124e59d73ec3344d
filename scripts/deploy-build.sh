#!/usr/bin/env bash
# The deploy build: `sam build` in infra/, the release arm64 bootstraps of every function, made to
# work the first time on a fresh machine. README's deploy path is this, then `cd infra && sam deploy`.
#
# `sam build` starts one cargo-lambda build per function at once (infra/samconfig.toml: parallel =
# true). On a machine without the aarch64-unknown-linux-gnu target each build installs it, at the same
# time, and one of them fails ("can't find crate for `core`"). So the target is added here, once,
# before them. The SAM CLI and cargo-lambda go into .venv, like the project's other Python tools.
#
# Needs Rust with rustup, and Python 3 with pip. Arguments are passed on to `sam build`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=aarch64-unknown-linux-gnu

if ! command -v rustup >/dev/null 2>&1; then
  echo "deploy-build: rustup is needed to add the $target target (or add it to your toolchain yourself)" >&2
  exit 1
fi
# Quick when the target is there already; the builds use the same toolchain (no override file).
rustup target add "$target"

scripts/local-stack.sh tools # .venv with the SAM CLI
if [ ! -x .venv/bin/cargo-lambda ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda>=1,<2'
fi
export PATH="$root/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

cd infra
sam build "$@"

# Thin wrappers; the real work is in scripts/.
# The Python tools (moto, cfn-lint, aws-sam-cli, cargo-lambda) live in .venv, put first on PATH here.
SHELL := /usr/bin/env bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: test demo email-render lint build deploy-build check-deploy stack-up stack-down

## test: every check CI runs (fmt, clippy, cargo test against the local emulator, cfn-lint, sam validate)
test:
	bash scripts/test.sh

## demo: run the end-to-end demo
demo:
	bash scripts/demo.sh

## email-render: screenshots of the default e-mail of each alert type in headless Chromium, checked
## for a non-blank render (skipped, with a message, when chromium is not installed; not part of `test`)
email-render:
	bash scripts/email-render.sh

## lint: formatting, clippy and the SAM template checks, without the tests
lint:
	scripts/local-stack.sh tools
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint infra/template.yaml
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 sam validate --lint --template infra/template.yaml

## build: release arm64 bootstraps of every function (needs cargo-lambda: `.venv/bin/pip install cargo-lambda`)
FUNCTIONS := $(patsubst functions/%/,%,$(sort $(wildcard functions/notify-*/)))
build:
	cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS))

## deploy-build: `sam build` in infra/, after adding the arm64 target once (see scripts/deploy-build.sh)
deploy-build:
	bash scripts/deploy-build.sh

## check-deploy: the deploy build from a clean clone, on a rustup home without the arm64 target
check-deploy:
	bash scripts/check-deploy.sh

## stack-up / stack-down: start / stop the local AWS emulator (moto server; URL: scripts/local-stack.sh url)
stack-up:
	scripts/local-stack.sh start

stack-down:
	scripts/local-stack.sh stop

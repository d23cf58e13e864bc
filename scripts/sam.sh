#!/usr/bin/env bash
# Runs the pinned AWS SAM CLI from the project venv: `bash scripts/sam.sh build`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export SAM_CLI_TELEMETRY=0
# sam build looks for esbuild on PATH: use the project's pinned one.
export PATH="$PWD/node_modules/.bin:$PATH"
exec .venv/bin/sam "$@"

#!/usr/bin/env bash
# Runs the pinned AWS SAM CLI from the project venv: `bash scripts/sam.sh build`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export SAM_CLI_TELEMETRY=0
exec .venv/bin/sam "$@"

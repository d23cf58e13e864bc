#!/usr/bin/env bash
# Template checks: `sam validate --lint` and `cfn-lint`, both from the pinned tools in .venv. Fails on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export SAM_CLI_TELEMETRY=0
.venv/bin/sam validate --lint --template template.yaml
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: no errors or warnings"

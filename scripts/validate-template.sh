#!/usr/bin/env bash
# Template checks (`npm run validate`), with the pinned tools of the project's venvs; fails on any error:
#   1. sam validate --lint   the SAM transform and cfn-lint as SAM runs it
#   2. cfn-lint              errors and warnings (a warning fails too; justified exceptions are ignored in the
#                            template's Metadata, with the reason)
#   3. checkov               security checks; each accepted exception is suppressed on its resource in
#                            template.yaml (Metadata: checkov: skip:) with its reason
# CHECKOV=0 skips step 3 (e.g. offline, where its venv cannot be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0

bash scripts/venv.sh dev
echo "== sam validate --lint"
.venv/bin/sam validate --lint --template template.yaml

echo "== cfn-lint"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: no errors, no warnings"

if [ "${CHECKOV:-1}" != "0" ]; then
  bash scripts/venv.sh checkov
  echo "== checkov"
  .venv/checkov/bin/checkov --config-file .checkov.yaml --file template.yaml
fi

#!/usr/bin/env bash
# Template checks (`npm run validate`), with the pinned tools of the project's venvs; fails on any error:
#   1. sam validate --lint   the SAM transform and cfn-lint as SAM runs it, for the default parameters and for
#                            each mode (CacheMode, Egress, Tracing): the transform reads parameter values (Tracing
#                            Disabled drops TracingConfig and the X-Ray policy), so each mode is checked as a
#                            copy of the template with other Defaults
#   2. cfn-lint              errors and warnings (a warning fails too; justified exceptions are ignored in the
#                            template's Metadata, with the reason). It checks every branch of every condition
#                            against the resource schemas whatever the parameters, so one run covers all modes;
#                            the values each mode resolves to are checked by test/emulator/template.test.ts
#   3. checkov               security checks; each accepted exception is suppressed on its resource in
#                            template.yaml (Metadata: checkov: skip:) with its reason
# CHECKOV=0 skips step 3 (e.g. offline, where its venv cannot be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0

bash scripts/venv.sh dev
echo "== sam validate --lint"
.venv/bin/sam validate --lint --template template.yaml

# The modes besides the defaults: Name=Value pairs that replace those parameters' Defaults.
MODES=(
  "CacheMode=Cluster ShardCount=3 ReplicaCount=2"
  "CacheMode=Serverless"
  "Egress=Ipv6"
  "Egress=Ipv6 CacheMode=Serverless NetworkMode=ExistingSubnets ExistingVpcId=vpc-0123456789abcdef0"
  "Tracing=Disabled LogLevel=DEBUG SystemLogLevel=INFO"
  "Tracing=Active ApiDetailedMetrics=true"
  # Store=DynamoDB: no VPC and no cache; the ElastiCache-only parameters are ignored (here MinReplicaAcks and
  # NetworkMode values the rules would refuse with Store=ElastiCache).
  "Store=DynamoDB"
  "Store=DynamoDB PointInTimeRecovery=true Egress=Ipv6 CacheMode=Cluster ShardCount=3 ReplicaCount=2 MinReplicaAcks=5 NetworkMode=ExistingSubnets MetricMathAlarms=false DashboardEnabled=false"
)
variants="$(mktemp -d)"
trap 'rm -rf "$variants"' EXIT
# Each mode's copy is validated in the background, two at a time (each sam validate is one CPU-bound process);
# the outputs are printed in order and any failure fails the script.
validate_mode() {
  local i="$1" mode="$2"
  .venv/bin/sam validate --lint --template "$variants/template-$i.yaml" 2>&1 |
    sed "s#$variants/template-$i.yaml#template.yaml ($mode)#" >"$variants/out-$i.txt"
  echo "${PIPESTATUS[0]}" >"$variants/status-$i.txt"
}
i=0
for mode in "${MODES[@]}"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  .venv/bin/python - template.yaml $mode >"$variants/template-$i.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for pair in sys.argv[2:]:
    name, value = pair.split("=", 1)
    block = re.search(r"\n  " + re.escape(name) + r":\n(?:    .*\n)*?    Default: (.*)\n", text)
    if not block:
        sys.exit(f"template.yaml: no Default for parameter {name}")
    text = text[: block.start(1)] + '"' + value + '"' + text[block.end(1):]
sys.stdout.write(text)
PY
  # Relative CodeUri/ContentUri: the copy is checked from the project directory.
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
  validate_mode "$i" "$mode" &
done
wait
failed=0
i=0
for mode in "${MODES[@]}"; do
  i=$((i + 1))
  echo "== sam validate --lint ($mode)"
  cat "$variants/out-$i.txt"
  if [ "$(cat "$variants/status-$i.txt")" != "0" ]; then failed=1; fi
done
[ "$failed" = 0 ] || { echo "sam validate failed for a mode above"; exit 1; }

echo "== cfn-lint"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: no errors, no warnings"

if [ "${CHECKOV:-1}" != "0" ]; then
  bash scripts/venv.sh checkov
  echo "== checkov"
  .venv/checkov/bin/checkov --config-file .checkov.yaml --file template.yaml
fi

#!/usr/bin/env bash
# Creates or refreshes the project's Python venvs from their pinned requirements (only when missing or when the
# requirements file changed):
#   bash scripts/venv.sh           .venv          <- requirements-dev.txt (SAM CLI, cfn-lint, moto)
#   bash scripts/venv.sh checkov   .venv/checkov  <- requirements-checkov.txt (its boto3 pin clashes with SAM's)
#   bash scripts/venv.sh emulator  .venv/ministack <- requirements-emulator.txt (ministack, for npm run deploy:emulator)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-dev}" in
  dev) venv=.venv requirements=requirements-dev.txt ;;
  checkov) venv=.venv/checkov requirements=requirements-checkov.txt ;;
  emulator) venv=.venv/ministack requirements=requirements-emulator.txt ;;
  *) echo "usage: $0 [dev|checkov|emulator]" >&2; exit 2 ;;
esac
stamp="$venv/.$(basename "$requirements")"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "setting up $venv from $requirements" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

#!/usr/bin/env bash
# Write a config file (every option commented out, at its default) if there is none yet.
set -euo pipefail
conf=${1:?usage: ensure-config.sh PATH}
cd "$(dirname "$0")/.."
if [ ! -e "$conf" ]; then
  mkdir -p "$(dirname "$conf")"
  .venv/bin/stratus config sample > "$conf"
  echo "==> wrote $conf (all options at their defaults; edit to change)"
fi

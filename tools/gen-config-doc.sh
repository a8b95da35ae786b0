#!/usr/bin/env bash
# Regenerate docs/configuration.md from the options the code declares.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat <<'HEAD'
# Configuration

Every Stratus part reads one INI file: `/etc/stratus/stratus.conf` by default, another
with `stratus --config-file PATH` or `$STRATUS_CONFIG`. Files in `<file>.d/*.conf`
(for example `/etc/stratus/stratus.conf.d/`) are read after it, in name order, and
override it; bootstrap records generated service passwords there. Where OpenStack has a
well-known name for an option, Stratus uses it. Values may refer to `[DEFAULT]` options
as `{data_dir}`, `{my_ip}` or `{host}`, and to any option as `{section.option}`.

Below is every option with its help text and default, exactly as
`stratus config sample` prints it (this file is regenerated from the code by
`tools/gen-config-doc.sh`, and a test checks it is current).

```ini
HEAD
  .venv/bin/python -m stratus.cli.main config sample
  echo '```'
} > docs/configuration.md

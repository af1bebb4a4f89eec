#!/usr/bin/env bash
# Installs what bench/run.js compares infq with (`npm run bench:anchors`): nginx from Debian's
# packages (when missing; needs root) and, into bench/anchors/ only, the Portkey gateway and
# Node 22 from npm. Nothing here becomes a dependency of infq.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nginx >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx
  else
    echo "nginx is missing: install Debian's package (apt-get install -y nginx) as root" >&2
  fi
fi
# Lifecycle scripts stay off: both packages ship ready-to-run files.
npm --prefix "$here/anchors" ci --no-audit --no-fund --ignore-scripts

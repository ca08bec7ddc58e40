#!/usr/bin/env bash
# Install Debian's espeak-ng, the fallback speech synthesiser of the voice channel (Piper,
# the default, comes from PyPI with the virtual environment).
set -euo pipefail
if command -v espeak-ng >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "espeak-ng is missing: run 'sudo apt-get install -y espeak-ng'" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null

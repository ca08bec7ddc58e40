#!/usr/bin/env bash
# Install Debian's nginx for `make run-cluster` and the cluster tests (it runs unprivileged
# on a high port with its own prefix and configuration, bot/runtime/cluster.py; the
# package's own site on port 80 is not used).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "nginx is missing: run 'sudo apt-get install -y nginx'" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null

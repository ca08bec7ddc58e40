#!/usr/bin/env bash
# Keep var/secrets.env holding a random value for each secret that make run needs: Rasa's
# HTTP API token, the agents' ticket API token, the widget's session-signing key and the
# key the demo shop signs identity tokens with.
# A value already in the environment wins; existing values are never replaced.
# honcho reads the file with `-e var/secrets.env`.
set -euo pipefail
mkdir -p var
file=var/secrets.env
umask 077
touch "$file"
for name in RASA_AUTH_TOKEN TOUCHLINE_AGENT_TOKEN TOUCHLINE_SESSION_SECRET TOUCHLINE_IDENTITY_SECRET; do
  if ! grep -q "^$name=" "$file"; then
    echo "$name=${!name:-$(openssl rand -hex 32)}" >> "$file"
  fi
done

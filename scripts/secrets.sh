#!/usr/bin/env bash
# Create var/secrets.env once with random tokens for Rasa's HTTP API and the agents' ticket
# API (values already in the environment win). honcho reads it with `-e var/secrets.env`.
set -euo pipefail
mkdir -p var
file=var/secrets.env
if [ ! -f "$file" ]; then
  umask 077
  {
    echo "RASA_AUTH_TOKEN=${RASA_AUTH_TOKEN:-$(openssl rand -hex 24)}"
    echo "TOUCHLINE_AGENT_TOKEN=${TOUCHLINE_AGENT_TOKEN:-$(openssl rand -hex 24)}"
  } > "$file"
fi

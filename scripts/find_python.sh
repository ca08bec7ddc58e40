#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: $PYTHON, else python3.10 on PATH, else pyenv's
# newest 3.10.x (through the pyenv command, or in $PYENV_ROOT / ~/.pyenv when it is not on PATH). Rasa 3.6 needs 3.8-3.10 and python-telegram-bot 22 needs >= 3.10.
set -euo pipefail
is310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }
if [ -n "${PYTHON:-}" ]; then
  is310 "$PYTHON" || { echo "PYTHON=$PYTHON is not Python 3.10" >&2; exit 1; }
  echo "$PYTHON"; exit 0
fi
if command -v python3.10 >/dev/null && is310 python3.10; then command -v python3.10; exit 0; fi
if command -v pyenv >/dev/null; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -V | tail -1 || true)
  if [ -n "$version" ] && is310 "$(pyenv prefix "$version")/bin/python"; then
    echo "$(pyenv prefix "$version")/bin/python"; exit 0
  fi
fi
# pyenv not on PATH (e.g. a non-login shell): look in its default root.
for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10* 2>/dev/null | sort -V -r); do
  if is310 "$candidate/bin/python"; then echo "$candidate/bin/python"; exit 0; fi
done
echo "Python 3.10 not found: install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10" >&2
exit 1

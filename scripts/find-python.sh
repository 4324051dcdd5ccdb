#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter (the TFX 1.16 stack needs exactly 3.10).
# Order: $PYTHON, python3.10 on PATH, pyenv's installs, the system's. A pyenv shim that is on
# PATH but not activated fails to run, so every candidate is tried, not just looked up.
set -u
candidates=("${PYTHON:-}" python3.10 "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
    command -v "$c" 2>/dev/null || echo "$c"
    exit 0
  fi
done
echo "Python 3.10 not found: install it (README: 'Python 3.10') or set PYTHON=/path/to/python3.10" >&2
exit 1

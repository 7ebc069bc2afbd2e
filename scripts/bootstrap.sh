#!/usr/bin/env bash
# Create .venv with Python 3.11+ and install SPOA into it (re-installs only when pyproject changes).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
fi
[ -n "$python" ] || { echo "SPOA needs Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
# pip's noise that is not ours to act on: a missing local index, and setuptools' notice that an
# editable install of a flat layout (domain/, api/, ... beside pyproject.toml) is one.
quiet() {
  grep -v "^WARNING: Location" \
    | awk '/BuildBackendWarning: Editable installation/ {skip = 1}
           skip && /with strategy, WheelFile/ {skip = 0; next}
           !skip' || true
}
stamp=".venv/.spoa-installed${extras:+-$extras}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | quiet || true
  spec="."; [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet -e "$spec" 2>&1 | quiet || true
  .venv/bin/python -c "import api.cli.main" # fail loudly if the install did not work
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# Sets up .venv with everything nasbot-viz needs on a fresh Debian machine (idempotent).
# torch==2.13.0 goes first: it is a CPU build on this kind of machine's disk, and a bare
# "torch" requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  need=""
  command -v dot >/dev/null || need="$need graphviz"
  if [ "$extras" = "test" ] && [ ! -x /usr/bin/chromium ]; then need="$need chromium"; fi
  if [ -n "$need" ]; then
    echo "setup: apt-get install$need"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  fi
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
if [ -n "$extras" ]; then
  python -m pip install -q -e ".[$extras]"
else
  python -m pip install -q -e .
fi

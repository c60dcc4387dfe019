#!/usr/bin/env bash
# Everything the lab needs, installed only when missing: .venv with the Python packages,
# then the server binaries (apt on Debian as root; a precise message otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
bash scripts/setup-servers.sh

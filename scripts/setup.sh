#!/usr/bin/env bash
# Everything the lab needs, installed only when missing: .venv with the Python packages,
# then the server binaries (apt on Debian as root; a precise message otherwise), then the
# scripts the exported site serves itself (MathJax, reveal.js; once, from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
bash scripts/setup-servers.sh
# another Python for notebook 08's interpreter comparison, if this machine has one (optional)
.venv/bin/python -m scalelab.plumbing.interpreters --build || true
# MathJax and reveal.js for exported pages; `make export` insists, other targets only warn
bash scripts/setup-site-assets.sh || echo "setup: the site's scripts were not fetched (see above); exported pages will lack maths and slides until they are" >&2

#!/usr/bin/env bash
# Idempotent: the headless browser the browser tests drive (tests/lab) and `make export` prints
# its PDFs with (scalelab/publishing/browser.py).
# Debian's chromium, installed with apt as root; anyone else gets a precise message and that
# one test is skipped with the same message (SCALELAB_CHROMIUM may point at another build).
set -euo pipefail
if [ -n "${SCALELAB_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && [ "${SCALELAB_SETUP_AS_ROOT:-}" != 0 ] && command -v apt-get >/dev/null && [ -f /etc/debian_version ]; then
  echo "setup: installing chromium with apt (for the browser tests and the PDFs)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends chromium >/tmp/scalelab-apt-browser.log 2>&1; then
    apt-get update >/tmp/scalelab-apt-update.log 2>&1 || true
    apt-get install -y --no-install-recommends chromium >/tmp/scalelab-apt-browser.log 2>&1 || {
      echo "setup: apt-get install chromium failed; the last lines of /tmp/scalelab-apt-browser.log:" >&2
      tail -20 /tmp/scalelab-apt-browser.log >&2; exit 1; }
  fi
else
  echo "setup: no chromium: the browser tests are skipped and make export prints no PDF. Install" \
       "it (Debian/Ubuntu: apt-get install chromium) or set SCALELAB_CHROMIUM=/path/to/chromium." >&2
fi

#!/usr/bin/env bash
# Idempotent: fetch the scripts the exported site serves itself (reveal.js for slides, MathJax
# for maths) once from the npm registry into .venv/site-assets, so no page of the site loads
# anything from the network. Installs Node.js's npm with apt on Debian as root when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.venv/site-assets
want="reveal.js@4.6.1 mathjax@3.2.2"
stamp="$dest/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup-site-assets: installing npm with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
  else
    echo "setup-site-assets: the site needs npm once, to fetch reveal.js and MathJax from the npm" >&2
    echo "  registry (Debian: apt-get install npm; conda: conda install -c conda-forge nodejs)." >&2
    exit 1
  fi
fi
mkdir -p "$dest"
echo "setup-site-assets: fetching $want from the npm registry"
log="$dest/npm-install.log"
if ! npm install --prefix "$dest" --no-audit --no-fund --no-save $want >"$log" 2>&1; then
  echo "setup-site-assets: npm install failed; the last lines of $log:" >&2
  tail -20 "$log" >&2
  exit 1
fi
echo "$want" > "$stamp"

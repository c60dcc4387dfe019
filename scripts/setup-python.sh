#!/usr/bin/env bash
# Idempotent: create .venv and install the project with its test extras.
# Re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
  echo "setup: need Python 3.11 to 3.13 as \$PYTHON or python3 (found: $("$PY" --version 2>&1 || echo none))." >&2
  echo "       Or use conda: conda env create -f environment.yml && conda activate scalelab" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PY" --version)"
  # without pip: ensurepip takes seconds, and uv installs the packages (pip comes only if
  # uv cannot: below)
  "$PY" -m venv --without-pip .venv
fi
stamp=.venv/.scalelab-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv (seconds with uv; a minute or more with pip)"
  log=.venv/pip-install.log
  # uv (from PyPI, into the venv) installs the same packages as pip in seconds rather than a
  # minute; where it cannot (it reads no pip.conf, so a mirror set only there), pip does
  # uv goes in with this interpreter's pip, or the venv's own where that one cannot
  if { "$PY" -m pip --python .venv/bin/python install uv >"$log" 2>&1 ||
       { .venv/bin/python -m ensurepip >>"$log" 2>&1 &&
         .venv/bin/python -m pip install uv >>"$log" 2>&1; }; } &&
     .venv/bin/python -m uv pip install --python .venv/bin/python --compile-bytecode \
       -e '.[test]' >>"$log" 2>&1; then
    touch .venv/.scalelab-compiled  # uv compiled every package it installed
  elif ! { echo "setup: uv could not install them; pip does" >>"$log" &&
           { .venv/bin/python -m pip --version || .venv/bin/python -m ensurepip; } &&
           .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e '.[test]'; } >>"$log" 2>&1; then
    echo "setup: pip install failed; the last lines of $log:" >&2
    grep -v "^WARNING: Location" "$log" | tail -25 >&2
    exit 1
  fi
  .venv/bin/python -m ipykernel install --sys-prefix --name scalelab --display-name "Python (scalelab)" >/dev/null
  touch "$stamp"
fi
# Bytecode compiled once, here: where PYTHONDONTWRITEBYTECODE is set (as on this lab's
# machines), Python writes none while it runs, and every kernel, generator and test process
# would compile pandas, matplotlib, Django and the lab again as it imports them (make test
# took a sixth longer). Once per venv for the packages (a venv uv made before it was told to
# compile has none), and each time for the lab's own code: nothing for a current file.
if [ ! -f .venv/.scalelab-compiled ]; then
  echo "setup: compiling the packages' bytecode once (PYTHONDONTWRITEBYTECODE keeps Python from it)"
  .venv/bin/python -m compileall -q -j 0 \
    "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    >/dev/null 2>&1 || true
  touch .venv/.scalelab-compiled
fi
.venv/bin/python -m compileall -q -j 0 scalelab tests >/dev/null
# JupyterLab's settings for this environment (no news pop-up over the first screen)
.venv/bin/python -c "from scalelab.publishing import lab; lab.write_settings()"
# git strips the outputs of notebooks/*.ipynb when they are staged (.gitattributes): a saved
# run in JupyterLab stays in the working copy, and a `git pull` does not conflict with it
if git rev-parse --git-dir >/dev/null 2>&1; then
  git config filter.nbstripout.clean "'$PWD/.venv/bin/python' -m nbstripout --keep-id"
  git config filter.nbstripout.smudge cat
  git config diff.ipynb.textconv "'$PWD/.venv/bin/python' -m nbstripout --keep-id -t"
fi

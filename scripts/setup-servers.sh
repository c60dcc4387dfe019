#!/usr/bin/env bash
# Idempotent: make sure the server binaries the lab starts are present.
#   required: PostgreSQL (postgres, initdb, pg_ctl, pg_basebackup), Redis (redis-server), nginx,
#             wrk (the independent load generator)
#   optional: memcached, PgBouncer (experiments that need them skip with a visible note)
# Order of lookup is the harness's own (scalelab.plumbing.binaries): an environment variable override,
# the active conda env, PATH, Debian's versioned PostgreSQL directory. What is missing is
# installed with apt on Debian as root; anyone else gets a precise message.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBIN=.venv/bin/python
# exit status of the check: 0 nothing missing, 1 missing (the packages are printed), else it failed
set +e
missing=$("$PYBIN" -m scalelab.plumbing.binaries --missing-packages)
status=$?
set -e
if [ "$status" = 0 ]; then
  exit 0
elif [ "$status" != 1 ]; then
  echo "setup: could not check the server binaries ($PYBIN -m scalelab.plumbing.binaries exited $status)" >&2
  exit 1
fi
as_root=0
[ "$(id -u)" = 0 ] && as_root=1
# SCALELAB_SETUP_AS_ROOT=0 takes the path of a user without root (the tests use it)
[ "${SCALELAB_SETUP_AS_ROOT:-}" = 0 ] && as_root=0
if [ "$as_root" = 1 ] && command -v apt-get >/dev/null && [ -f /etc/debian_version ]; then
  echo "setup: installing server packages with apt: $missing"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their own daemons: the lab starts its servers itself, on loopback.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  if ! apt-get install -y --no-install-recommends $missing >/tmp/scalelab-apt.log 2>&1; then
    apt-get update >/tmp/scalelab-apt-update.log 2>&1 || true
    apt-get install -y --no-install-recommends $missing >/tmp/scalelab-apt.log 2>&1 || {
      echo "setup: apt-get install $missing failed; the last lines of /tmp/scalelab-apt.log:" >&2
      tail -20 /tmp/scalelab-apt.log >&2; exit 1; }
  fi
else
  echo "setup: these server packages are missing: $missing" >&2
  "$PYBIN" -m scalelab.plumbing.binaries --explain >&2 || true
  cat >&2 <<'MSG'
Install them in one of these ways, then run make again:
  - Debian/Ubuntu as root:  apt-get install postgresql redis-server nginx-light memcached pgbouncer wrk
  - conda (no root needed): conda env create -f environment.yml && conda activate scalelab
    (conda-forge has no memcached: the experiments that need it are skipped with a note)
  - or point the lab at your own binaries: SCALELAB_POSTGRES_BIN=/path/to/pg/bin,
    SCALELAB_REDIS_SERVER=/path/to/redis-server, SCALELAB_NGINX=/path/to/nginx,
    SCALELAB_MEMCACHED=/path/to/memcached, SCALELAB_PGBOUNCER=/path/to/pgbouncer,
    SCALELAB_WRK=/path/to/wrk
MSG
  exit 1
fi
"$PYBIN" -m scalelab.plumbing.binaries --missing-packages >/dev/null

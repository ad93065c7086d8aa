#!/usr/bin/env bash
# Install and start what the tests need beyond Python: PostgreSQL (ledger tests) and Chromium
# (dashboard/report browser tests), from Debian packages. Writes .ci/env.sh with the settings.
set -euo pipefail
cd "$(dirname "$0")/.."
: > .ci/env.sh
SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# PostgreSQL: start the first cluster and make a throwaway role + database for the tests.
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
if [ -n "$ver" ]; then
  $SUDO pg_ctlcluster "$ver" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  su postgres -c "psql -qtc \"SELECT 1 FROM pg_roles WHERE rolname='ballast'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE ballast LOGIN PASSWORD 'ballast' CREATEDB\""
  su postgres -c "psql -qtc \"SELECT 1 FROM pg_database WHERE datname='ballast_test'\"" | grep -q 1 ||
    su postgres -c "createdb -O ballast ballast_test"
  echo "export BALLAST_TEST_PG_URL=postgresql+psycopg://ballast:ballast@127.0.0.1:5432/ballast_test" >> .ci/env.sh
fi
[ -x /usr/bin/chromium ] && echo "export BALLAST_CHROMIUM=/usr/bin/chromium" >> .ci/env.sh
cat .ci/env.sh

#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests use (127.0.0.1:5432, trust auth, database `test`) is up.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ready; then exit 0; fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed;" >&2
  echo "start a server there (trust auth, database 'test') and run 'make test' again." >&2
  exit 1
fi
echo "starting PostgreSQL on 127.0.0.1:5432" >&2
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not come up on 127.0.0.1:5432 within 30 s" >&2
exit 1

#!/usr/bin/env bash
# Start what the tests need and that this machine has but is not running.
# PostgreSQL: started if installed and down. The S3 server (moto) is started by the tests.
set -u
if command -v pg_isready >/dev/null 2>&1; then
    if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
            echo "starting PostgreSQL"
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
            for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
        fi
    fi
    pg_isready -h 127.0.0.1 -p 5432 || echo "PostgreSQL is not running: its tests will be skipped"
else
    echo "PostgreSQL is not installed here: its tests will be skipped (CI runs them)"
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "Chromium is not installed: browser tests will be skipped (apt-get install chromium)"
fi
exit 0

#!/usr/bin/env bash
# Installs the Debian packages the test profile needs (as root), only when they are missing.
set -euo pipefail

need=()
pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null \
  || need+=(libmariadb-dev pkg-config)
command -v mariadb-admin >/dev/null || need+=(mariadb-client)
# Point-in-time recovery ships and replays binary logs with mariadb-binlog (also mariadb-client).
command -v mariadb-binlog >/dev/null || need+=(mariadb-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
# Realtime: the outage tests run a redis-server of their own; Node runs pusher-js.
command -v redis-server >/dev/null || need+=(redis-server)
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
# Backups: the stock tools an archive must restore with, and the PostgreSQL client tools.
command -v age >/dev/null || need+=(age)
command -v zstd >/dev/null || need+=(zstd)
command -v pg_dump >/dev/null && command -v psql >/dev/null || need+=(postgresql-client)
# Operations dashboard browser test: Debian's chromium and its matching chromedriver.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
# deploy/prometheus: promtool checks and unit-tests the alert rules.
command -v promtool >/dev/null || need+=(prometheus)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "test-system-deps: need root to apt-get install: ${need[*]}" >&2
  exit 1
fi
echo "test-system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

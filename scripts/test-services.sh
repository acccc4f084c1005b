#!/usr/bin/env bash
# Starts MariaDB, Redis and RabbitMQ for the integration tests when they are not already answering.
set -euo pipefail

wait_for() {  # wait_for NAME CMD...: up to 30 s for CMD to succeed
  local name=$1; shift
  for _ in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "test-services: $name did not come up" >&2
  return 1
}

if ! mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null 2>&1; then
  echo "test-services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb-admin --host=127.0.0.1 --user=root ping
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# The RabbitMQ broker tests (tests/support/rabbitmq.py) use a vhost of their own on this node.
if ! rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; then
  echo "test-services: starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for RabbitMQ rabbitmq-diagnostics -q check_port_connectivity
fi

# The backup tests restore into PostgreSQL too (trust auth on localhost, user postgres).
if command -v pg_ctlcluster >/dev/null && ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  echo "test-services: starting PostgreSQL"
  for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
    pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start || true
  done
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -q
fi

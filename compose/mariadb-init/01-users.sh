#!/bin/sh
# Least-privilege MariaDB users of opsproject, one per job (docs/PRODUCTION_ENV.md, "Database
# users", says why each GRANT is there). Idempotent: every run sets the passwords and grants again.
#
# compose mounts this folder at /docker-entrypoint-initdb.d: the mariadb image runs it once, on
# the first start with an empty data volume, with a server reachable as root over its socket.
# The tests run the very same file against their server (tests/support/db_users.py).
#
# Input (environment; each *_PASSWORD may instead come from *_PASSWORD_FILE, a compose secret):
#   MARIADB_DATABASE            the app's schema (default opsproject)
#   MARIADB_USER, MARIADB_PASSWORD                 the app user: its schema, nothing else
#   MARIADB_BACKUP_USER, MARIADB_BACKUP_PASSWORD   the backup user (default user opsproject_backup)
#   MARIADB_DRILL_USER, MARIADB_DRILL_PASSWORD     the drill user (default user opsproject_drill)
#   OPS_INIT_CLIENT    outside the image's entrypoint: the client command to run the SQL with
#                      (e.g. "mariadb --defaults-extra-file=/path/root.cnf"); default "mariadb"
# The SQL goes to the client on stdin, so no password appears in any process's argv.

secret() {
    # $1: variable name. Its value, or the content of the file named by $1_FILE.
    eval "value=\${$1:-}"
    eval "file=\${$1_FILE:-}"
    if [ -z "$value" ] && [ -n "$file" ]; then
        value=$(cat "$file") || return 1
    fi
    if [ -z "$value" ]; then
        echo "01-users.sh: $1 (or $1_FILE) is not set" >&2
        return 1
    fi
    # A quoted SQL string: backslashes and single quotes doubled.
    printf '%s' "$value" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"
}

ops_users_sql() {
    database=${MARIADB_DATABASE:-opsproject}
    app=${MARIADB_USER:-opsproject}
    backup=${MARIADB_BACKUP_USER:-opsproject_backup}
    drill=${MARIADB_DRILL_USER:-opsproject_drill}
    app_password=$(secret MARIADB_PASSWORD) || return 1
    backup_password=$(secret MARIADB_BACKUP_PASSWORD) || return 1
    drill_password=$(secret MARIADB_DRILL_PASSWORD) || return 1
    # In a grant's database name _ and % are wildcards: escaped, the grant names exactly one
    # schema; the drill grant keeps its trailing % on purpose.
    schema=$(printf '%s' "$database" | sed 's/_/\\_/g')
    cat <<SQL
CREATE USER IF NOT EXISTS '$app'@'%';
ALTER USER '$app'@'%' IDENTIFIED BY '$app_password';
GRANT ALL PRIVILEGES ON \`$schema\`.* TO '$app'@'%';

CREATE USER IF NOT EXISTS '$backup'@'%';
ALTER USER '$backup'@'%' IDENTIFIED BY '$backup_password';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON \`$schema\`.* TO '$backup'@'%';
GRANT SELECT ON mysql.proc TO '$backup'@'%';
GRANT RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO '$backup'@'%';

CREATE USER IF NOT EXISTS '$drill'@'%';
ALTER USER '$drill'@'%' IDENTIFIED BY '$drill_password';
GRANT ALL PRIVILEGES ON \`$schema\\_drill\\_%\`.* TO '$drill'@'%';
SQL
}

if command -v docker_process_sql >/dev/null 2>&1; then
    # Sourced by the image's entrypoint: its own root connection to the initialising server.
    ops_users_sql | docker_process_sql
else
    sql=$(ops_users_sql) || exit 1
    printf '%s\n' "$sql" | ${OPS_INIT_CLIENT:-mariadb}
fi

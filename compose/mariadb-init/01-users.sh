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
#   MARIADB_PITR_USER, MARIADB_PITR_PASSWORD       the binlog replay user (default opsproject_pitr)
#   OPS_INIT_CLIENT    outside the image's entrypoint: the client command to run the SQL with
#                      (e.g. "mariadb --defaults-extra-file=/path/root.cnf"); default "mariadb"
# The SQL goes to the client on stdin, so no password appears in any process's argv.

ops_secret() {
    # $1: variable name. Its value, or the content of the file named by $1_FILE.
    eval "ops_value=\${$1:-}"
    eval "ops_file=\${$1_FILE:-}"
    if [ -z "$ops_value" ] && [ -n "$ops_file" ]; then
        ops_value=$(cat "$ops_file") || return 1
    fi
    if [ -z "$ops_value" ]; then
        echo "01-users.sh: $1 (or $1_FILE) is not set" >&2
        return 1
    fi
    # A quoted SQL string: backslashes and single quotes doubled.
    printf '%s' "$ops_value" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"
}

ops_name() {
    # $1: variable name, $2: its value (or default), $3: the longest MariaDB takes. Names go into
    # the SQL as they are, and a database name into grants' LIKE patterns (where % and \ are
    # special, _ is escaped below): letters, digits, _, $ and - only (ASCII: backups/dumpers/base.py
    # and this script cut long names alike), else one line and no SQL.
    case "$2" in
        '' | *[!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_\$-]*)
            echo "01-users.sh: $1 may hold only ASCII letters, digits, _, \$ and -: got '$2'" >&2
            return 1
            ;;
    esac
    if [ ${#2} -gt "$3" ]; then
        echo "01-users.sh: $1 is longer than MariaDB's $3 characters" >&2
        return 1
    fi
}

ops_drill_prefix() {
    # $1: the app's database. What its drills' scratch databases start with, as
    # backups/dumpers/base.py scratch_prefix() makes it: <database>_drill_, or, when that plus 8
    # hex digits exceeds 63 characters or its grant pattern (each _ escaped, then %) 64, the
    # first 20 characters, _, 8 hex digits of the name's sha256 and _drill_.
    ops_full="$1_drill_"
    ops_pattern=$(printf '%s%%' "$ops_full" | sed 's/_/\\_/g')
    if [ $((${#ops_full} + 8)) -le 63 ] && [ ${#ops_pattern} -le 64 ]; then
        printf '%s' "$ops_full"
        return
    fi
    ops_digest=$(printf '%s' "$1" | sha256sum | cut -c1-8) || return 1
    printf '%s_%s_drill_' "$(printf '%s' "$1" | cut -c1-20)" "$ops_digest"
}

ops_users_sql() {
    ops_database=${MARIADB_DATABASE:-opsproject}
    ops_app=${MARIADB_USER:-opsproject}
    ops_backup=${MARIADB_BACKUP_USER:-opsproject_backup}
    ops_drill=${MARIADB_DRILL_USER:-opsproject_drill}
    ops_pitr=${MARIADB_PITR_USER:-opsproject_pitr}
    ops_name MARIADB_DATABASE "$ops_database" 64 || return 1
    ops_name MARIADB_USER "$ops_app" 80 || return 1
    ops_name MARIADB_BACKUP_USER "$ops_backup" 80 || return 1
    ops_name MARIADB_DRILL_USER "$ops_drill" 80 || return 1
    ops_name MARIADB_PITR_USER "$ops_pitr" 80 || return 1
    ops_app_password=$(ops_secret MARIADB_PASSWORD) || return 1
    ops_backup_password=$(ops_secret MARIADB_BACKUP_PASSWORD) || return 1
    ops_drill_password=$(ops_secret MARIADB_DRILL_PASSWORD) || return 1
    ops_pitr_password=$(ops_secret MARIADB_PITR_PASSWORD) || return 1
    # In a grant's database name _ and % are wildcards: _ escaped (ops_name refused % and \), the
    # grant names exactly one schema; the drill grant keeps its trailing % on purpose.
    ops_schema=$(printf '%s' "$ops_database" | sed 's/_/\\_/g')
    ops_scratch=$(ops_drill_prefix "$ops_database") || return 1
    ops_drill_schema=$(printf '%s' "$ops_scratch" | sed 's/_/\\_/g')
    cat <<SQL
CREATE USER IF NOT EXISTS '$ops_app'@'%';
ALTER USER '$ops_app'@'%' IDENTIFIED BY '$ops_app_password';
GRANT ALL PRIVILEGES ON \`$ops_schema\`.* TO '$ops_app'@'%';

CREATE USER IF NOT EXISTS '$ops_backup'@'%';
ALTER USER '$ops_backup'@'%' IDENTIFIED BY '$ops_backup_password';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON \`$ops_schema\`.* TO '$ops_backup'@'%';
GRANT SELECT ON mysql.proc TO '$ops_backup'@'%';
GRANT RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO '$ops_backup'@'%';

CREATE USER IF NOT EXISTS '$ops_drill'@'%';
ALTER USER '$ops_drill'@'%' IDENTIFIED BY '$ops_drill_password';
GRANT ALL PRIVILEGES ON \`$ops_drill_schema%\`.* TO '$ops_drill'@'%';

CREATE USER IF NOT EXISTS '$ops_pitr'@'%';
ALTER USER '$ops_pitr'@'%' IDENTIFIED BY '$ops_pitr_password';
GRANT ALL PRIVILEGES ON \`$ops_schema\`.* TO '$ops_pitr'@'%';
GRANT ALL PRIVILEGES ON \`$ops_drill_schema%\`.* TO '$ops_pitr'@'%';
GRANT BINLOG REPLAY, BINLOG ADMIN ON *.* TO '$ops_pitr'@'%';
SQL
}

if command -v docker_process_sql >/dev/null 2>&1; then
    # Sourced by the image's entrypoint: its own root connection to the initialising server.
    ops_users_sql | docker_process_sql
else
    ops_sql=$(ops_users_sql) || exit 1
    printf '%s\n' "$ops_sql" | ${OPS_INIT_CLIENT:-mariadb}
fi

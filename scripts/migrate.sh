#!/usr/bin/env bash
# Apply sql/*.sql in name order, each once, recording each in the table
# schema_migrations(version, applied_at). Safe to run again.
#
# Connection from the environment (the same names the programs use):
#   DB_SOCKET, or DB_HOST (127.0.0.1) + DB_PORT (3306)
#   DB_USER (required), DB_PASSWORD or DB_PASSWORD_FILE, DB_DATABASE (micro_user)
#   MIGRATIONS_DIR (default: sql/ of this repository)
# Each file runs in one client session followed by its bookkeeping INSERT;
# the client stops at the first error, so a failing file is never recorded.
# Every statement in a file must end with ';' (or the active DELIMITER).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIGRATIONS_DIR=${MIGRATIONS_DIR:-$ROOT/sql}

die() { echo "migrate: $*" >&2; exit 1; }

[[ -n ${DB_USER:-} ]] || die "DB_USER is required"
DB_DATABASE=${DB_DATABASE:-micro_user}

password() {
    if [[ -n ${DB_PASSWORD_FILE:-} ]]; then
        [[ -r $DB_PASSWORD_FILE ]] || die "cannot read DB_PASSWORD_FILE $DB_PASSWORD_FILE"
        # Trailing newline is not part of the secret (same rule as the programs).
        tr -d '\n' < "$DB_PASSWORD_FILE"
    else
        printf '%s' "${DB_PASSWORD:-}"
    fi
}

# The password goes through a private option file, never the command line.
write_defaults() {
    local pw
    pw=$(password)
    {
        echo "[client]"
        echo "user=$DB_USER"
        [[ -n $pw ]] && printf 'password="%s"\n' "$(printf '%s' "$pw" | sed 's/\\/\\\\/g; s/"/\\"/g')"
        if [[ -n ${DB_SOCKET:-} ]]; then
            echo "socket=$DB_SOCKET"
            echo "protocol=socket"
        else
            echo "host=${DB_HOST:-127.0.0.1}"
            echo "port=${DB_PORT:-3306}"
            echo "protocol=tcp"
        fi
    } > "$DEFAULTS"
}

sql() { mariadb --defaults-extra-file="$DEFAULTS" --batch --skip-column-names "$DB_DATABASE" "$@"; }

main() {
    DEFAULTS=$(mktemp)
    trap 'rm -f "$DEFAULTS"' EXIT
    chmod 600 "$DEFAULTS"
    write_defaults

    sql -e "CREATE TABLE IF NOT EXISTS schema_migrations (
                version VARCHAR(255) NOT NULL PRIMARY KEY,
                applied_at DATETIME NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" \
        || die "cannot reach database $DB_DATABASE as $DB_USER"

    local applied file version count=0
    applied=$(sql -e "SELECT version FROM schema_migrations")
    shopt -s nullglob
    local files=("$MIGRATIONS_DIR"/*.sql)
    for file in "${files[@]}"; do       # glob order is name order (C locale below)
        version=$(basename "$file")
        grep -qxF -- "$version" <<<"$applied" && continue
        if ! { cat "$file"; printf '\n;\nINSERT INTO schema_migrations (version, applied_at) VALUES (\x27%s\x27, UTC_TIMESTAMP());\n' "$version"; } | sql; then
            die "migration $version failed (nothing recorded for it)"
        fi
        echo "migrate: applied $version"
        count=$((count + 1))
    done
    echo "migrate: $count applied, $(( ${#files[@]} - count )) already present, database $DB_DATABASE"
}

export LC_ALL=C
main "$@"

#!/usr/bin/env bash
# What waits: the dead-letter queues and the outbox.
#
#   scripts/dlq.sh                     # counts: each event queue, its retry and dead queue, the outbox
#   scripts/dlq.sh list QUEUE [N]      # show up to N (20) dead letters of QUEUE, left in place
#   scripts/dlq.sh replay QUEUE [N]    # move N (all) dead letters back to QUEUE for the mailer
#   scripts/dlq.sh replay QUEUE ID     # move the one with this event id back
#   scripts/dlq.sh outbox              # outbox rows not yet confirmed by RabbitMQ
#
# QUEUE: create.password.reset, password.reset.unknown or password.changed
# (".dead" may be added).
# A dead letter is a message the mailer gave up on (SMTP refused it, or it
# failed MAILER_MAX_ATTEMPTS times); `list` shows why. A replayed message
# gets a fresh set of attempts; the mailer still sends an event at most
# once (mail_sent). Outbox rows older than OUTBOX_RELAY_AGE seconds mean
# RabbitMQ was unreachable and no mailer has relayed them yet.
#
# Settings (the programs' AMQP_* and DB_* names; passwords also as _FILE)
# come from $MICRO_USER_ENV, else $VAR_DIR/stack.env (the local stack,
# default ./var/stack.env), else /etc/micro-user/env, else the environment
# as it is (in a container: docker-compose exec mailer dlq.sh).
# Needs python3-pika and the mariadb client.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "dlq: $*" >&2; exit 1; }

load_env() {
    local file=${MICRO_USER_ENV:-${VAR_DIR:-$ROOT/var}/stack.env}
    [[ -r $file ]] || file=/etc/micro-user/env
    [[ -r $file ]] || return 0
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
}

# The outbox through the mariadb client, connected like scripts/migrate.sh.
outbox() {
    [[ -n ${DB_USER:-} ]] || die "DB_USER is not set (no settings file found?)"
    local pw
    DEFAULTS=$(mktemp)
    trap 'rm -f "$DEFAULTS"' EXIT
    chmod 600 "$DEFAULTS"
    if [[ -n ${DB_PASSWORD_FILE:-} && -z ${DB_PASSWORD:-} ]]; then
        pw=$(tr -d '\r\n' < "$DB_PASSWORD_FILE")
    else
        pw=${DB_PASSWORD:-}
    fi
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
    local row count oldest age
    row=$(mariadb --defaults-extra-file="$DEFAULTS" --batch --skip-column-names \
        "${DB_DATABASE:-micro_user}" -e "SELECT COUNT(*), IFNULL(MIN(created_at), '-'),
            IFNULL(TIMESTAMPDIFF(SECOND, MIN(created_at), NOW(3)), 0) FROM outbox") \
        || die "cannot read the outbox of ${DB_DATABASE:-micro_user}"
    IFS=$'\t' read -r count oldest age <<<"$row"
    if ((count == 0)); then
        echo "outbox: 0 rows waiting"
    else
        echo "outbox: $count row(s) waiting, oldest $oldest (${age}s ago)"
    fi
}

amqp() { /usr/bin/python3 "$ROOT/scripts/dlq_amqp.py" "$@"; }

main() {
    load_env
    case ${1:-count} in
        count) local rc=0; amqp count || rc=1; outbox; return "$rc" ;;
        list) [[ $# -ge 2 ]] || die "usage: $0 list QUEUE [N]"; amqp list "$2" "${3:-20}" ;;
        replay) [[ $# -ge 2 ]] || die "usage: $0 replay QUEUE [N|ID]"; amqp replay "$2" "${3:-0}" ;;
        outbox) outbox ;;
        *) echo "usage: $0 [count] | list QUEUE [N] | replay QUEUE [N|ID] | outbox" >&2; exit 2 ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# Keep one reset-mailer running. Cron runs this every minute (scripts/crontab);
# the local stack runs it every 2 seconds.
#
# Settings come from $MICRO_USER_ENV (shell KEY='value' lines), by default
# $VAR_DIR/stack.env when VAR_DIR is set, else /etc/micro-user/env. Every
# line is exported to the mailer. Besides the program settings it uses:
#   RESET_MAILER_BIN  the binary (default: build/reset-mailer of this repo)
#   VAR_DIR           if set, lock and pid files go to $VAR_DIR/run,
#                     else to /run/lock (micro-user-reset-mailer.{lock,pid})
#
# If another copy holds the lock (a mailer is running) this exits 0 at once.
# Otherwise it logs one line and becomes the mailer (exec), still holding the
# lock; the lock goes away when the mailer dies, so the next tick restarts it.
# Output (this line and the mailer's own) goes to stdout/stderr: the caller
# chooses the log file.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

load_env() {
    local file=${MICRO_USER_ENV:-}
    if [[ -z $file ]]; then
        if [[ -n ${VAR_DIR:-} ]]; then file=$VAR_DIR/stack.env; else file=/etc/micro-user/env; fi
    fi
    [[ -r $file ]] || { echo "mailer-supervise: cannot read settings file $file" >&2; exit 1; }
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
}

main() {
    load_env
    local bin=${RESET_MAILER_BIN:-$ROOT/build/reset-mailer}
    local lock pidfile
    if [[ -n ${VAR_DIR:-} ]]; then
        lock=$VAR_DIR/run/reset-mailer.lock
    else
        lock=/run/lock/micro-user-reset-mailer.lock
    fi
    pidfile=${lock%.lock}.pid

    # Open without truncating; fd 9 is inherited by the mailer after exec.
    exec 9<>"$lock"
    flock -n 9 || exit 0
    echo "$$" > "$pidfile"
    echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') mailer-supervise: starting reset-mailer ($bin, pid $$)"
    exec "$bin"
}

main "$@"

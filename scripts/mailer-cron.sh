#!/usr/bin/env bash
# The mailer container's command (docker-compose.yaml): keep reset-mailer
# alive as on a plain host -- cron runs scripts/mailer-supervise.sh every
# minute with the line of scripts/crontab -- and stop it cleanly.
#
# Runs as root (cron needs it). In order it:
#   - writes the container's environment to /etc/micro-user/env, where the
#     supervisor reads its settings (cron hands jobs no environment);
#   - installs scripts/crontab (its /opt/micro-user paths pointed at this
#     installation) as the crontab of MAILER_USER (default micro-user);
#   - makes the crontab's log file, /var/log/micro-user-reset-mailer.log, a
#     pipe into this process's stdout, so `docker-compose logs mailer`
#     shows the supervisor's restart lines and the mailer's JSON lines;
#   - runs the supervisor once at once rather than a minute later, then cron.
# On SIGTERM or SIGINT it stops cron, sends SIGTERM to the mailer (which
# finishes the message in hand), waits for it and exits 0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAILER_USER=${MAILER_USER:-micro-user}
ENV_FILE=/etc/micro-user/env
LOG_FILE=/var/log/micro-user-reset-mailer.log
PID_FILE=/run/lock/micro-user-reset-mailer.pid
STOP_WAIT=25

say() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') mailer-cron: $*"; }

squote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Every exported variable but the shell's own, as KEY='value' lines.
write_env() {
    local name
    install -d -m 0755 "$(dirname "$ENV_FILE")"
    {
        echo "# Written by $0 from the container's environment."
        while read -r name; do
            case $name in
                HOME|HOSTNAME|OLDPWD|PWD|SHLVL|_|MAILER_USER) continue ;;
            esac
            echo "$name=$(squote "${!name}")"
        done < <(compgen -e)
    } > "$ENV_FILE.tmp"
    chown "root:$MAILER_GROUP" "$ENV_FILE.tmp"
    chmod 0640 "$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

install_crontab() {
    sed "s#/opt/micro-user/#$ROOT/#g" "$ROOT/scripts/crontab" | crontab -u "$MAILER_USER" -
}

# A FIFO read (and held open) by a cat that copies it to our stdout.
log_pipe() {
    rm -f "$LOG_FILE"
    mkfifo -m 0620 "$LOG_FILE"
    chown "root:$MAILER_GROUP" "$LOG_FILE"
    cat 0<>"$LOG_FILE" &
    CAT_PID=$!
}

stop() {
    trap - TERM INT
    say "stopping"
    kill -TERM "$CRON_PID" 2>/dev/null || true
    local pid i
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < STOP_WAIT * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    kill -TERM "$CAT_PID" 2>/dev/null || true
    exit 0
}

main() {
    [[ $(id -u) == 0 ]] || { echo "mailer-cron: must run as root (cron)" >&2; exit 1; }
    MAILER_GROUP=$(id -gn "$MAILER_USER")
    write_env
    install_crontab
    log_pipe
    trap stop TERM INT
    # The same clean environment cron gives the job.
    setpriv --reuid="$MAILER_USER" --regid="$MAILER_GROUP" --init-groups \
        env -i PATH=/usr/bin:/bin SHELL=/bin/sh HOME=/ \
        "$ROOT/scripts/mailer-supervise.sh" >> "$LOG_FILE" 2>&1 &
    cron -f &
    CRON_PID=$!
    say "cron started (pid $CRON_PID); supervisor runs every minute as $MAILER_USER"
    # wait returns early on a trapped signal; cron dying ends the container.
    wait "$CRON_PID" || true
    say "cron exited"
    stop
}

main "$@"

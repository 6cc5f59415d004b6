#!/usr/bin/env bash
# What `make run` calls after building: bring the local stack up with the
# run defaults (README "The local stack"), show where to go, stay in the
# foreground following the logs, and take the stack down on Ctrl-C/SIGTERM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export VAR_DIR=${VAR_DIR:-./var}
VAR_DIR=$(realpath -m -- "$VAR_DIR")
HTTP_PORT=${HTTP_PORT:-8080}

STACK_UP=0
TAIL=
down() {
    trap - INT TERM EXIT
    [[ -n $TAIL ]] && kill "$TAIL" 2>/dev/null
    ((STACK_UP)) && { echo; scripts/stack.sh down; }
    exit 0
}
trap down INT TERM EXIT

# If up fails, stack.sh has already torn down what it started.
scripts/stack.sh up || { STACK_UP=0; trap - INT TERM EXIT; exit 1; }
STACK_UP=1

base=http://127.0.0.1:$HTTP_PORT
cat <<EOF2

  micro-user is running:
    $base/password/forgot    ask for a password reset
    $base/user/login         log in
    $base/user/register      create an account
    $base/user               the JSON API
  mail lands in  $VAR_DIR/mail/  (one .eml per message)
  logs in        $VAR_DIR/log/
  Ctrl-C stops everything.

EOF2

# Follow the application logs until interrupted. tail runs in the
# background so the trap fires as soon as the signal arrives.
tail -q -n 0 -F "$VAR_DIR/log/user-fcgi.log" "$VAR_DIR/log/reset-mailer.log" \
    "$VAR_DIR/log/smtp-sink.log" "$VAR_DIR/log/nginx-access.log" 2>/dev/null &
TAIL=$!
wait "$TAIL" || true

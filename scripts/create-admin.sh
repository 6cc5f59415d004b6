#!/usr/bin/env bash
# Create the first admin (or promote an existing account by its email).
#
#   scripts/create-admin.sh NAME EMAIL      # the password is read from stdin
#
# Settings come from $MICRO_USER_ENV, else $VAR_DIR/stack.env (default
# ./var/stack.env, the local stack's), else /etc/micro-user/env.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 NAME EMAIL  (password on stdin)" >&2; exit 2; }
env_file=${MICRO_USER_ENV:-${VAR_DIR:-$ROOT/var}/stack.env}
[[ -r $env_file ]] || env_file=/etc/micro-user/env
[[ -r $env_file ]] || { echo "create-admin: no settings file ($env_file)" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
if [[ -t 0 ]]; then
    read -r -s -p "Password for $1: " pw; echo >&2
    printf '%s\n' "$pw" | exec "${USER_FCGI_BIN:-$ROOT/build/user-fcgi}" --create-admin "$1" "$2"
fi
exec "${USER_FCGI_BIN:-$ROOT/build/user-fcgi}" --create-admin "$1" "$2"

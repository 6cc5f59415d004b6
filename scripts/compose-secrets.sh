#!/usr/bin/env bash
# Make the secret files docker-compose.yaml hands to the services, once:
#
#   scripts/compose-secrets.sh [DIR]     # DIR: $SECRETS_DIR, else ./secrets
#
# Creates each missing file with a random value (smtp_password empty: the
# SMTP catcher needs no AUTH; put your relay's password there); never
# overwrites one. The folder is 0700; the files are 0644 because compose
# (outside swarm) bind-mounts them as they are, and the services read them
# as their own users (mysql, micro-user, rabbitmq). A trailing newline is
# not part of a secret.
#
# The database and RabbitMQ take their password from these files only when
# their data volumes are new: to change one later, change it in the server
# too (ALTER USER / rabbitmqctl change_password), then here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-${SECRETS_DIR:-$ROOT/secrets}}

random() { head -c "$1" /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9'; }

mkdir -p "$DIR"
chmod 700 "$DIR"
made=()
for name in db_password amqp_password jwt_secret smtp_password; do
    file=$DIR/$name
    [[ -e $file ]] && continue
    case $name in
        jwt_secret) random 64 > "$file" ;;       # user-fcgi wants at least 32 bytes
        smtp_password) : > "$file" ;;
        *) random 32 > "$file" ;;
    esac
    chmod 644 "$file"
    made+=("$name")
done
if ((${#made[@]})); then
    echo "compose-secrets: made ${made[*]} in $DIR"
else
    echo "compose-secrets: all present in $DIR"
fi

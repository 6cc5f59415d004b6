#!/usr/bin/env bash
# The private local stack of micro-user: MariaDB, RabbitMQ, an SMTP sink,
# the FastCGI pool, nginx and the mailer, all on 127.0.0.1, all under
# $VAR_DIR (default ./var).
#
#   scripts/stack.sh up | down | status
#   scripts/stack.sh rabbitmqctl ARGS...   # rabbitmqctl against this stack's node
#
# Settings: see README "The local stack" and "Programs". Anything set in the
# environment overrides the defaults below. USER_FCGI_BIN and
# RESET_MAILER_BIN (default build/user-fcgi, build/reset-mailer) choose the
# binaries. Program settings are written to $VAR_DIR/stack.env.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/stack.sh"
START_TIMEOUT=${STACK_START_TIMEOUT:-90}

# Program settings passed through from the environment when set
# (README "Programs" table, plus sanitizer options).
PASS_THROUGH=(
    DB_HOST DB_PORT DB_SOCKET DB_DATABASE DB_USER
    AMQP_HOST AMQP_PORT AMQP_USER AMQP_PASSWORD AMQP_PASSWORD_FILE AMQP_VHOST
    AMQP_EXCHANGE AMQP_QUEUE_TYPE
    PUBLIC_BASE_URL JWT_SECRET JWT_SECRET_FILE JWT_ISSUER JWT_TTL
    RESET_TOKEN_TTL ARGON2_OPSLIMIT ARGON2_MEMLIMIT BODY_LIMIT COOKIE_SECURE
    TEMPLATE_DIR SMTP_HOST SMTP_PORT SMTP_STARTTLS SMTP_USER SMTP_PASSWORD
    SMTP_PASSWORD_FILE MAIL_FROM MAIL_UNKNOWN_NOTICE MAILER_PREFETCH
    MAILER_SMTP_SESSIONS MAILER_MAX_ATTEMPTS
    MAILER_RETRY_BASE OUTBOX_RELAY_AGE
    THROTTLE_FORGOT_ADDR_MINUTE THROTTLE_FORGOT_ADDR_HOUR THROTTLE_FORGOT_IP_HOUR
    THROTTLE_LOGIN_ACCOUNT THROTTLE_LOGIN_IP THROTTLE_TOKEN_IP
    ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
)

say()  { echo "stack: $*"; }
# One clear line, tear down what this run started, exit 1.
fail() {
    # fd 3 is the caller's stderr (see cmd_up): a trap may run while fd 2
    # points at a log file.
    if { true >&3; } 2>/dev/null; then echo "stack: $*" >&3; else echo "stack: $*" >&2; fi
    if ((${#STARTED[@]})); then
        local i
        for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do "stop_${STARTED[i]}" >/dev/null 2>&1 || true; done
    fi
    exit 1
}
STARTED=()

# ---------------------------------------------------------------- settings

abs_path() { realpath -m -- "$1"; }   # relative paths are relative to the cwd

config() {
    VAR_DIR=$(abs_path "${VAR_DIR:-./var}")
    HTTP_PORT=${HTTP_PORT:-8080}
    DB_PORT=${DB_PORT:-3307}
    AMQP_PORT=${AMQP_PORT:-5673}
    AMQP_DIST_PORT=${AMQP_DIST_PORT:-25673}
    SMTP_PORT_STACK=${SMTP_PORT:-2525}
    FCGI_WORKERS=${FCGI_WORKERS:-2}
    DB_DATABASE=${DB_DATABASE:-micro_user}
    DB_USER=${DB_USER:-micro_user}
    # Binaries are relative to the repository root, not the cwd.
    USER_FCGI_BIN=$(cd "$ROOT" && realpath -m -- "${USER_FCGI_BIN:-build/user-fcgi}")
    RESET_MAILER_BIN=$(cd "$ROOT" && realpath -m -- "${RESET_MAILER_BIN:-build/reset-mailer}")

    RUN=$VAR_DIR/run
    LOG=$VAR_DIR/log
    SECRETS=$VAR_DIR/secrets
    STACK_ENV=$VAR_DIR/stack.env
    DB_SOCK=$RUN/mysqld.sock
    FCGI_SOCK=$RUN/user-fcgi.sock
    RMQ_DIR=$VAR_DIR/rabbitmq
    RMQ_NODE=micro-user-$HTTP_PORT@localhost
    RMQ_PID=$RMQ_DIR/rabbitmq.pid
    # The SMTP sink runs unless the caller points the mailer elsewhere.
    if [[ -n ${SMTP_HOST:-} ]]; then SMTP_SINK=0; else SMTP_SINK=1; fi

    if [[ $(id -u) == 0 ]]; then
        IS_ROOT=1; RMQ_USER=rabbitmq; WEB_USER=www-data; DB_ADMIN=root
    else
        IS_ROOT=0; RMQ_USER=$(id -un); WEB_USER=$(id -un); DB_ADMIN=$(id -un)
    fi
    rabbit_prefix
}

# ---------------------------------------------------------------- helpers

# Is the process running? A zombie counts as gone: orphans are reaped by
# init, which may take a while (seconds, in some containers).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# pid from a pidfile if that process is alive and its command line
# mentions $2 (guards against a recycled pid from an old pidfile).
live_pid() {
    local file=$1 word=$2 pid
    [[ -r $file ]] || return 1
    pid=$(tr -dc '0-9' < "$file")
    [[ -n $pid ]] && alive "$pid" || return 1
    grep -qaF -- "$word" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# TERM the process, wait up to $3 seconds, then KILL. Never fails.
stop_pid() {
    local file=$1 word=$2 wait_s=${3:-20} pid i
    pid=$(live_pid "$file" "$word") || { rm -f "$file"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait_s * 10; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$file"
}

# Inode of the socket listening on 127.0.0.1:$1 (TCP), or nothing.
tcp_listen_inode() {
    local hex
    printf -v hex '0100007F:%04X' "$1"
    awk -v a="$hex" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp
}

# Inode of the unix socket bound at path $1, or nothing.
unix_socket_inode() { awk -v p="$1" '$8 == p { print $7; exit }' /proc/net/unix; }

# Kill what still holds socket inode $1 after its owner was stopped: the
# children of a master killed with -9 (nginx workers, FastCGI workers) keep
# the socket open, and would keep the port taken.
kill_socket_holders() {
    local inode=$1 comm=$2 fd pids=() pid
    [[ -n $inode ]] || return 0
    while read -r fd; do
        pid=${fd#/proc/}; pid=${pid%%/*}
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm"* ]] && pids+=("$pid")
    done < <(find /proc/[0-9]*/fd -lname "socket:\\[$inode\\]" 2>/dev/null)
    ((${#pids[@]})) || return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

port_free() {
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Wait until "$@" succeeds; fail with $name if the pidfile's process dies
# or the time runs out.
wait_until() {
    local name=$1 pidfile=$2 hint=$3; shift 3
    local deadline=$((SECONDS + START_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        # Only "is it alive": the pid may not have exec'd its final program yet.
        alive "$(cat "$pidfile" 2>/dev/null)" || fail "$name exited during start (see $hint)"
        ((SECONDS < deadline)) || fail "$name not ready after ${START_TIMEOUT}s (see $hint)"
        sleep 0.2
    done
}

# The command prefix that runs something as the RabbitMQ user with only the
# RabbitMQ environment (private HOME, so server and CLI share one cookie).
# The CLI's own distribution ports default to 35672-35682 for every node,
# which would collide with the test stack's node (15773, CLI 15873-15883): give each stack's
# CLI a range next to its own node instead.
rabbit_prefix() {
    RMQ_PREFIX=()
    ((IS_ROOT)) && RMQ_PREFIX=(setpriv --reuid="$RMQ_USER" --regid="$RMQ_USER" --init-groups)
    # --chdir=/: the checkout may sit in a folder the rabbitmq user cannot
    # enter (a mktemp -d is 0700), and Erlang reads its working directory.
    RMQ_PREFIX+=(env -i --chdir=/ PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
        HOME="$RMQ_DIR"
        RABBITMQ_NODENAME="$RMQ_NODE"
        RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
        RABBITMQ_LOG_BASE="$LOG/rabbitmq"
        RABBITMQ_PID_FILE="$RMQ_PID"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$AMQP_PORT"
        RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
        RABBITMQ_CTL_DIST_PORT_MIN="$((AMQP_DIST_PORT + 100))"
        RABBITMQ_CTL_DIST_PORT_MAX="$((AMQP_DIST_PORT + 110))"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        ERL_EPMD_ADDRESS=127.0.0.1)
}

as_rabbit() { "${RMQ_PREFIX[@]}" "$@" 3>&-; }   # 3>&-: see cmd_up

rabbitmqctl_cmd() { echo "${RMQ_PREFIX[*]@Q} /usr/lib/rabbitmq/bin/rabbitmqctl -n ${RMQ_NODE@Q}"; }
rabbitmqctl() { as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" "$@"; }

# Shell-quote one value in single quotes.
squote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

random_secret() { head -c "$1" /dev/urandom | base64 -w0; }

# ---------------------------------------------------------------- preparation

prepare_dirs() {
    mkdir -p "$VAR_DIR" "$RUN" "$LOG" "$VAR_DIR/mail" "$VAR_DIR/nginx/tmp" "$RMQ_DIR" "$LOG/rabbitmq"
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    # mktemp -d makes 0700 folders; rabbitmq and the nginx workers must get in.
    chmod 755 "$VAR_DIR" "$RUN" "$LOG"
    if ((IS_ROOT)); then
        chown -R "$RMQ_USER:" "$RMQ_DIR" "$LOG/rabbitmq"
        setpriv --reuid="$RMQ_USER" --regid="$RMQ_USER" --init-groups test -w "$RMQ_DIR" \
            || fail "user $RMQ_USER cannot write $RMQ_DIR (is a parent folder not searchable by others?)"
        setpriv --reuid="$WEB_USER" --regid="$WEB_USER" --init-groups test -x "$RUN" \
            || fail "user $WEB_USER cannot reach $RUN (is a parent folder not searchable by others?)"
    fi
    # A unix socket path must fit in sun_path (108 bytes).
    ((${#DB_SOCK} < 100)) || fail "VAR_DIR path too long for unix sockets: $VAR_DIR"
}

prepare_secrets() {
    if [[ -n ${DB_PASSWORD:-} ]]; then
        printf '%s' "$DB_PASSWORD" > "$SECRETS/db_password"
    elif [[ ! -s $SECRETS/db_password ]]; then
        head -c 32 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' > "$SECRETS/db_password"
    fi
    [[ -s $SECRETS/jwt_secret ]] || random_secret 48 > "$SECRETS/jwt_secret"
    chmod 600 "$SECRETS"/*
}

check_ports() {
    local entry
    local ports=("$HTTP_PORT:nginx" "$DB_PORT:MariaDB" "$AMQP_PORT:RabbitMQ"
                 "$AMQP_DIST_PORT:RabbitMQ distribution")
    ((SMTP_SINK)) && ports+=("$SMTP_PORT_STACK:SMTP sink")
    for entry in "${ports[@]}"; do
        port_free "${entry%%:*}" || fail "port ${entry%%:*} (${entry#*:}) is already in use"
    done
}

check_binaries() {
    local bin
    for bin in "$USER_FCGI_BIN" "$RESET_MAILER_BIN"; do
        [[ -x $bin ]] || fail "$bin is missing or not executable (build it first: make all)"
    done
}

# Program settings: defaults, overridden by whatever the environment sets.
write_stack_env() {
    local -A env=(
        [DB_SOCKET]=$DB_SOCK
        [DB_USER]=$DB_USER
        [DB_DATABASE]=$DB_DATABASE
        [DB_PASSWORD_FILE]=$SECRETS/db_password
        [AMQP_HOST]=127.0.0.1
        [AMQP_PORT]=$AMQP_PORT
        [PUBLIC_BASE_URL]=http://127.0.0.1:$HTTP_PORT
        [JWT_SECRET_FILE]=$SECRETS/jwt_secret
        [COOKIE_SECURE]=0
        [TEMPLATE_DIR]=$ROOT/templates
        [SMTP_HOST]=127.0.0.1
        [SMTP_PORT]=$SMTP_PORT_STACK
        [MAIL_FROM]='micro-user <no-reply@localhost>'
    )
    ((SMTP_SINK)) || unset 'env[SMTP_PORT]'     # external SMTP: its port or the default
    local name
    for name in "${PASS_THROUGH[@]}"; do
        # Only what the caller exported; config() sets some of these names too.
        [[ -v $name && ${!name@a} == *x* ]] && env[$name]=${!name}
    done
    # A secret given directly wins over our generated file.
    [[ -n ${JWT_SECRET:-} && -z ${JWT_SECRET_FILE:-} ]] && unset 'env[JWT_SECRET_FILE]'

    {
        echo "# Written by scripts/stack.sh up; program settings, then the stack's own."
        for name in $(printf '%s\n' "${!env[@]}" | sort); do
            echo "$name=$(squote "${env[$name]}")"
        done
        echo "STACK_ROOT=$(squote "$ROOT")"
        echo "VAR_DIR=$(squote "$VAR_DIR")"
        echo "HTTP_PORT=$(squote "$HTTP_PORT")"
        echo "DB_PORT=$(squote "$DB_PORT")"
        echo "AMQP_DIST_PORT=$(squote "$AMQP_DIST_PORT")"
        echo "STACK_SMTP_PORT=$(squote "$SMTP_PORT_STACK")"
        echo "STACK_SMTP_SINK=$(squote "$SMTP_SINK")"
        echo "MAIL_DIR=$(squote "$VAR_DIR/mail")"
        echo "SMTP_FAULT_FILE=$(squote "$VAR_DIR/smtp-sink.fault")"
        echo "FCGI_WORKERS=$(squote "$FCGI_WORKERS")"
        echo "FCGI_SOCKET=$(squote "$FCGI_SOCK")"
        echo "USER_FCGI_BIN=$(squote "$USER_FCGI_BIN")"
        echo "RESET_MAILER_BIN=$(squote "$RESET_MAILER_BIN")"
        echo "RABBITMQ_NODENAME=$(squote "$RMQ_NODE")"
        echo "RABBITMQ_HOME=$(squote "$RMQ_DIR")"
        echo "RABBITMQ_USER=$(squote "$RMQ_USER")"
        # Full command line (shell words) for rabbitmqctl on this node.
        echo "RABBITMQCTL=$(squote "$(rabbitmqctl_cmd)")"
        echo "MICRO_USER_ENV=$(squote "$STACK_ENV")"
    } > "$STACK_ENV.tmp"
    chmod 644 "$STACK_ENV.tmp"
    mv "$STACK_ENV.tmp" "$STACK_ENV"
}

# Export every setting of stack.env (call in a subshell).
load_stack_env() {
    set -a
    # shellcheck disable=SC1090
    . "$STACK_ENV"
    set +a
}

# Run a command with every setting of stack.env exported.
with_stack_env() { ( load_stack_env; exec "$@" ); }

# ---------------------------------------------------------------- MariaDB

db_admin() { mariadb --no-defaults --socket="$DB_SOCK" -u "$DB_ADMIN" --batch; }

start_mariadb() {
    # mariadbd refuses root without --user=root; install-db also makes a
    # unix_socket account for this user, which db_admin connects as.
    local user_opt=(--user="$DB_ADMIN")
    if [[ ! -d $VAR_DIR/mysql/mysql ]]; then
        mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$VAR_DIR/mysql" \
            --auth-root-authentication-method=socket --skip-test-db \
            > "$LOG/mariadb-install.log" 2>&1 \
            || fail "mariadb-install-db failed (see $LOG/mariadb-install.log)"
    fi
    setsid mariadbd --no-defaults "${user_opt[@]}" --datadir="$VAR_DIR/mysql" \
        --socket="$DB_SOCK" --port="$DB_PORT" --bind-address=127.0.0.1 \
        --pid-file="$RUN/mariadb.pid" --log-error="$LOG/mariadb.log" \
        --skip-name-resolve --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci \
        < /dev/null 3>&- >> "$LOG/mariadb.log" 2>&1 &
    echo $! > "$RUN/mariadb.pid"    # until mariadbd writes it itself
    STARTED+=(mariadb)
    wait_until "MariaDB" "$RUN/mariadb.pid" "$LOG/mariadb.log" \
        mariadb-admin --no-defaults --socket="$DB_SOCK" -u "$DB_ADMIN" ping
}

sql_str() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }

setup_database() {
    local pw host db=${DB_DATABASE//\`/\`\`}
    pw=$(sql_str "$(cat "$SECRETS/db_password")")
    {
        echo "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        for host in localhost 127.0.0.1; do
            echo "CREATE USER IF NOT EXISTS $(sql_str "$DB_USER")@'$host' IDENTIFIED BY $pw;"
            echo "ALTER USER $(sql_str "$DB_USER")@'$host' IDENTIFIED BY $pw;"
            echo "GRANT ALL PRIVILEGES ON \`$db\`.* TO $(sql_str "$DB_USER")@'$host';"
        done
    } | db_admin > "$LOG/mariadb-setup.log" 2>&1 \
        || fail "creating database $DB_DATABASE and user $DB_USER failed (see $LOG/mariadb-setup.log)"
}

run_migrations() {
    with_stack_env "$ROOT/scripts/migrate.sh" > "$LOG/migrate.log" 2>&1 \
        || fail "$(grep -h '^migrate:' "$LOG/migrate.log" | tail -n1) (see $LOG/migrate.log)"
}

stop_mariadb() { stop_pid "$RUN/mariadb.pid" mariadbd 60; }

# ---------------------------------------------------------------- RabbitMQ

prepare_rabbit() {
    # A private cookie: the CLI runs with the same HOME, so it matches.
    if [[ ! -s $RMQ_DIR/.erlang.cookie ]]; then
        head -c 30 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' > "$RMQ_DIR/.erlang.cookie"
        chmod 400 "$RMQ_DIR/.erlang.cookie"
    fi
    cat > "$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by scripts/stack.sh: loopback only.
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
# Debian 12's RabbitMQ 3.10 still makes v1 classic queues; v2 (the default
# from 3.13, as in compose's image) spends about a fifth less CPU on each
# persistent message.
classic_queue.default_version = 2
log.file.level = info
log.console = false
EOF
    echo '[].' > "$RMQ_DIR/enabled_plugins"
    : > "$RMQ_DIR/rabbitmq-env.conf"
    ((IS_ROOT)) && chown -R "$RMQ_USER:" "$RMQ_DIR" "$LOG/rabbitmq"
    return 0
}

start_rabbitmq() {
    prepare_rabbit
    rm -f "$RMQ_PID"
    # Not through the as_rabbit function: a function in the background
    # leaves a bash subshell waiting around.
    setsid "${RMQ_PREFIX[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server \
        < /dev/null 3>&- >> "$LOG/rabbitmq/startup.log" 2>&1 &
    STARTED+=(rabbitmq)
    rabbitmqctl wait --timeout "$START_TIMEOUT" "$RMQ_PID" >> "$LOG/rabbitmq/startup.log" 2>&1 \
        || fail "RabbitMQ node $RMQ_NODE not ready (see $LOG/rabbitmq/)"
}

stop_rabbitmq() {
    # `stop PIDFILE` waits for the pid file without end when it is gone
    # (a second `down` at the same time removed it): bounded.
    if live_pid "$RMQ_PID" beam >/dev/null; then
        as_rabbit timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RMQ_NODE" \
            stop "$RMQ_PID" >/dev/null 2>&1 || true
    fi
    stop_pid "$RMQ_PID" beam 30
    stop_epmd_if_idle
}

# epmd is shared by every Erlang node on the host; stop it once no node uses it.
stop_epmd_if_idle() {
    local names
    names=$(epmd -names 2>/dev/null) || return 0
    grep -q '^name ' <<<"$names" || epmd -kill >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- SMTP sink

start_smtp() {
    ((SMTP_SINK)) || return 0
    setsid /usr/bin/python3 "$ROOT/scripts/smtp_sink.py" --port "$SMTP_PORT_STACK" \
        --mail-dir "$VAR_DIR/mail" --fault-file "$VAR_DIR/smtp-sink.fault" \
        < /dev/null 3>&- >> "$LOG/smtp-sink.log" 2>&1 &
    echo $! > "$RUN/smtp-sink.pid"
    STARTED+=(smtp)
    wait_until "SMTP sink" "$RUN/smtp-sink.pid" "$LOG/smtp-sink.log" \
        port_open "$SMTP_PORT_STACK"
}

stop_smtp() { stop_pid "$RUN/smtp-sink.pid" smtp_sink 10; }

# ---------------------------------------------------------------- FastCGI pool

start_fcgi() {
    rm -f "$FCGI_SOCK"
    # spawn-fcgi makes the socket and execs multiwatch, which keeps N workers
    # alive. -n (no fork) because a forked spawn-fcgi points the workers'
    # stderr at /dev/null; this way it goes to the log.
    (
        load_stack_env
        exec setsid spawn-fcgi -n -s "$FCGI_SOCK" -M 0666 \
            -- /usr/bin/multiwatch -f "$FCGI_WORKERS" -- "$USER_FCGI_BIN"
    ) < /dev/null 3>&- >> "$LOG/user-fcgi.log" 2>&1 &
    echo $! > "$RUN/user-fcgi.pid"
    STARTED+=(fcgi)
    wait_until "user-fcgi pool" "$RUN/user-fcgi.pid" "$LOG/user-fcgi.log" test -S "$FCGI_SOCK"
}

stop_fcgi() {
    local inode
    inode=$(unix_socket_inode "$FCGI_SOCK")
    stop_pid "$RUN/user-fcgi.pid" multiwatch 20
    kill_socket_holders "$inode" "$(basename "$USER_FCGI_BIN" | cut -c1-15)"
    rm -f "$FCGI_SOCK"
}

# Any answer but a gateway error means a worker took the request.
fcgi_answers() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HTTP_PORT/user/token") || return 1
    [[ $code != 502 && $code != 504 && $code != 000 ]]
}

# ---------------------------------------------------------------- nginx

start_nginx() {
    local dir=$VAR_DIR/nginx user_line=
    ((IS_ROOT)) && user_line="user $WEB_USER;"
    # nginx's workers may not be able to enter the checkout (a mktemp -d
    # is 0700): they serve a copy of the CSS, made at each start.
    rm -rf "$dir/static"
    cp -R "$ROOT/templates/static" "$dir/static"
    chmod -R a+rX "$dir/static"
    # shellcheck disable=SC2016  # envsubst wants the literal ${NAME} list
    MU_LISTEN=127.0.0.1:$HTTP_PORT MU_FCGI_PASS=unix:$FCGI_SOCK \
        MU_STATIC_ROOT=$dir/static MU_ACCESS_LOG=$LOG/nginx-access.log \
        envsubst '${MU_LISTEN} ${MU_FCGI_PASS} ${MU_STATIC_ROOT} ${MU_ACCESS_LOG}' \
        < "$ROOT/nginx/micro-user.conf" > "$dir/micro-user.conf"
    # shellcheck disable=SC2016
    MU_VAR_DIR=$VAR_DIR MU_USER=$user_line envsubst '${MU_VAR_DIR} ${MU_USER}' \
        < "$ROOT/nginx/nginx.conf.in" > "$dir/nginx.conf"
    local nginx=(nginx -p "$dir/" -c "$dir/nginx.conf" -e "$LOG/nginx-error.log")
    "${nginx[@]}" -t > "$LOG/nginx-start.log" 2>&1 \
        || fail "nginx config test failed (see $LOG/nginx-start.log)"
    "${nginx[@]}" < /dev/null 3>&- >> "$LOG/nginx-start.log" 2>&1 \
        || fail "nginx failed to start (see $LOG/nginx-start.log)"
    STARTED+=(nginx)
    # The daemonised master writes its pidfile a moment after we return.
    local i
    for ((i = 0; i < 50; i++)); do [[ -s $RUN/nginx.pid ]] && break; sleep 0.1; done
    wait_until "nginx" "$RUN/nginx.pid" "$LOG/nginx-error.log" port_open "$HTTP_PORT"
}

stop_nginx() {
    local inode
    inode=$(tcp_listen_inode "$HTTP_PORT")
    stop_pid "$RUN/nginx.pid" nginx 20
    kill_socket_holders "$inode" nginx
}

# ---------------------------------------------------------------- mailer

# Stands in for cron's minute: run the supervisor every 2 seconds.
mailer_loop() {
    trap 'exit 0' TERM INT
    # Children in the background + wait, so TERM is handled at once
    # (bash defers traps while a foreground child runs).
    while :; do
        "$ROOT/scripts/mailer-supervise.sh" & wait $! || true
        sleep 2 & wait $!
    done
}

start_mailer() {
    MICRO_USER_ENV=$STACK_ENV setsid "$SELF" _mailer-loop \
        < /dev/null 3>&- >> "$LOG/reset-mailer.log" 2>&1 &
    echo $! > "$RUN/mailer-loop.pid"
    STARTED+=(mailer)
    local name
    name=$(basename "$RESET_MAILER_BIN")
    wait_until "reset-mailer" "$RUN/mailer-loop.pid" "$LOG/reset-mailer.log" \
        live_pid "$RUN/reset-mailer.pid" "$name"
    # A mailer that dies at once (a missing setting) is a failed start.
    sleep 1
    live_pid "$RUN/reset-mailer.pid" "$name" >/dev/null \
        || fail "reset-mailer exits right after start (see $LOG/reset-mailer.log)"
}

stop_mailer() {
    stop_pid "$RUN/mailer-loop.pid" _mailer-loop 5
    stop_pid "$RUN/reset-mailer.pid" "$(basename "$RESET_MAILER_BIN")" 20
}

# ---------------------------------------------------------------- commands

running_any() {
    live_pid "$RUN/mariadb.pid" mariadbd || live_pid "$RMQ_PID" beam \
        || live_pid "$RUN/smtp-sink.pid" smtp_sink || live_pid "$RUN/user-fcgi.pid" multiwatch \
        || live_pid "$RUN/nginx.pid" nginx || live_pid "$RUN/mailer-loop.pid" _mailer-loop
}

cmd_up() {
    if running_any >/dev/null 2>&1; then
        fail "already running in $VAR_DIR (scripts/stack.sh down first)"
    fi
    # Keep the caller's stderr for fail(); daemons are started with 3>&-.
    exec 3>&2
    # Ctrl-C halfway through must not leave half a stack behind.
    trap 'fail "interrupted; stopped what was started"' INT TERM
    check_ports
    check_binaries
    prepare_dirs
    prepare_secrets
    write_stack_env
    start_mariadb
    setup_database
    run_migrations
    start_rabbitmq
    start_smtp
    start_fcgi
    start_nginx
    wait_until "user-fcgi workers" "$RUN/user-fcgi.pid" "$LOG/user-fcgi.log" fcgi_answers
    start_mailer
    say "up: http://127.0.0.1:$HTTP_PORT  (data, logs, mail under $VAR_DIR)"
}

# The binaries the running stack was started with (they name its processes).
bins_of_last_up() {
    local name value
    for name in USER_FCGI_BIN RESET_MAILER_BIN; do
        value=$(sed -n "s/^$name='\(.*\)'$/\1/p" "$STACK_ENV" 2>/dev/null || true)
        [[ -n $value ]] && printf -v "$name" '%s' "$value"
    done
    return 0
}

cmd_down() {
    # Reverse order of start; each step is a no-op if already gone.
    bins_of_last_up
    stop_mailer
    stop_nginx
    stop_fcgi
    stop_smtp
    stop_rabbitmq
    stop_mariadb
    say "down: $VAR_DIR"
}

status_line() {
    local name=$1 file=$2 word=$3 where=$4 pid
    if pid=$(live_pid "$file" "$word"); then
        printf '%-12s running  pid %-7s %s\n' "$name" "$pid" "$where"
    else
        printf '%-12s stopped\n' "$name"
    fi
}

cmd_status() {
    local mailer_name
    bins_of_last_up
    mailer_name=$(basename "$RESET_MAILER_BIN")
    status_line mariadb "$RUN/mariadb.pid" mariadbd "127.0.0.1:$DB_PORT $DB_SOCK"
    status_line rabbitmq "$RMQ_PID" beam "127.0.0.1:$AMQP_PORT node $RMQ_NODE"
    if ((SMTP_SINK)); then
        status_line smtp-sink "$RUN/smtp-sink.pid" smtp_sink "127.0.0.1:$SMTP_PORT_STACK -> $VAR_DIR/mail"
    else
        printf '%-12s external %s\n' smtp-sink "$SMTP_HOST"
    fi
    status_line user-fcgi "$RUN/user-fcgi.pid" multiwatch "$FCGI_SOCK"
    status_line nginx "$RUN/nginx.pid" nginx "http://127.0.0.1:$HTTP_PORT"
    status_line reset-mailer "$RUN/reset-mailer.pid" "$mailer_name" "log $LOG/reset-mailer.log"
}

main() {
    config
    case ${1:-} in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        rabbitmqctl) shift; rabbitmqctl "$@" ;;
        _mailer-loop) mailer_loop ;;
        *) echo "usage: $0 up|down|status|rabbitmqctl ARGS" >&2; exit 2 ;;
    esac
}

main "$@"

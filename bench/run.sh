#!/usr/bin/env bash
# make bench: measures micro-user against the limits of this machine, in one
# run, on a private stack of its own (scripts/stack.sh with the release
# binaries, FCGI_WORKERS=2, default argon2 cost), and writes
#   build/bench/results.md    the table (req/s, p50, p99, ratio, target, met?)
#   build/bench/results.png   throughput and latency (gnuplot)
#   build/bench/results.jsonl every measurement, one JSON object a line
#   build/bench/raw/          raw wrk, blaster and client output
#   build/bench/history.tsv   worker RSS of every run (growth across runs)
# The stack is torn down at the end, whatever happens.
#
# Settings (environment): BENCH_DURATION (s per wrk run, default 5),
# BENCH_CONNS ("1 8 32"), BENCH_MAIL_N (1000), BENCH_MAIL_ROUNDS (3),
# BENCH_E2E_RATE (100/s),
# BENCH_E2E_SECS (10), BENCH_HTTP_PORT (28180; +1 and +2 serve the
# baselines), BENCH_DB_PORT (23317), BENCH_AMQP_PORT (25683),
# BENCH_AMQP_DIST_PORT (25883), BENCH_SMTP_PORT (22535); ARGON2_OPSLIMIT and
# ARGON2_MEMLIMIT change the argon2 cost of the app and of the raw verifier
# alike.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
OUT=$ROOT/build/bench
BIN=$OUT/bin
RAW=$OUT/raw
VAR=$OUT/var
RESULTS=$OUT/results.jsonl
STACK_LOG=$OUT/stack.log

export VAR_DIR=$VAR
export HTTP_PORT=${BENCH_HTTP_PORT:-28180}
export DB_PORT=${BENCH_DB_PORT:-23317}
export AMQP_PORT=${BENCH_AMQP_PORT:-25683}
export AMQP_DIST_PORT=${BENCH_AMQP_DIST_PORT:-25883}
export SMTP_PORT=${BENCH_SMTP_PORT:-22535}
export FCGI_WORKERS=2
export USER_FCGI_BIN=build/user-fcgi RESET_MAILER_BIN=build/reset-mailer
unset SMTP_HOST DB_HOST DB_SOCKET
# The app's own throttles would answer a single load generator with 429s
# or stop sending mail; the bench measures the work, so they are set to
# their maximum (README "Programs").
lim=1000000
export THROTTLE_FORGOT_IP_HOUR=$lim THROTTLE_FORGOT_ADDR_MINUTE=$lim \
    THROTTLE_FORGOT_ADDR_HOUR=$lim THROTTLE_LOGIN_ACCOUNT=$lim \
    THROTTLE_LOGIN_IP=$lim THROTTLE_TOKEN_IP=$lim

STATIC_PORT=$((HTTP_PORT + 1))
HELLO_PORT=$((HTTP_PORT + 2))
DURATION=${BENCH_DURATION:-5}
read -r -a CONNS <<<"${BENCH_CONNS:-1 8 32}"
MAIL_N=${BENCH_MAIL_N:-1000}
MAIL_ROUNDS=${BENCH_MAIL_ROUNDS:-3}
E2E_RATE=${BENCH_E2E_RATE:-100}
E2E_SECS=${BENCH_E2E_SECS:-10}
E2E_N=$(( (E2E_RATE * E2E_SECS) ))
APP=http://127.0.0.1:$HTTP_PORT
BENCH_EMAIL=bench@bench.example
BENCH_PW=bench-password-1
UNKNOWN_EMAIL=nobody-here@bench.example
QUEUE=create.password.reset

RUN=$VAR/run
HELLO_SOCK=$RUN/fcgi-hello.sock
HELLO_PID=$RUN/fcgi-hello.pid
T_START=$SECONDS

say() { printf 'bench: [%3ds] %s\n' "$((SECONDS - T_START))" "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

# ------------------------------------------------------------ teardown

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

stop_pidfile() {   # pidfile seconds
    local pid i
    [[ -r $1 ]] || return 0
    pid=$(tr -dc '0-9' < "$1")
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < $2 * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    say "tearing down"
    stop_pidfile "$HELLO_PID" 10
    scripts/stack.sh down >> "$STACK_LOG" 2>&1 || echo "bench: stack.sh down failed (see $STACK_LOG)" >&2
    ((rc == 0)) && say "done in $((SECONDS - T_START))s: $OUT/results.md"
    exit "$rc"
}

# ------------------------------------------------------------ helpers

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_free() {
    $PY - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

wait_for() {   # seconds what command...
    local deadline=$((SECONDS + $1)) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what not ready after ${deadline}s"
        sleep 0.2
    done
}

record() { echo "$1" >> "$RESULTS"; }

sql() {   # runs stdin as the app's database user
    mariadb --no-defaults --batch --skip-column-names --socket="$DB_SOCKET" \
        -u "$DB_USER" -p"$(cat "$DB_PASSWORD_FILE")" "$DB_DATABASE"
}

rmq() { scripts/stack.sh rabbitmqctl "$@" 2>/dev/null; }

queue_depth() {
    rmq list_queues -q name messages | awk -v q="$QUEUE" '$1 == q { print $2 }'
}

mail_count() { find "$MAIL_DIR" -maxdepth 1 -name '*.eml' | wc -l; }

worker_pids() {
    local mw
    mw=$(tr -dc '0-9' < "$RUN/user-fcgi.pid")
    ps -o pid= --ppid "$mw" | tr -d ' '
}

# Worker memory now: VmRSS and VmHWM of every user-fcgi worker.
rss_snapshot() {
    local label=$1 pid rows=()
    for pid in $(worker_pids); do
        rows+=("$(awk -v pid="$pid" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
            END { printf "{\"pid\": %d, \"rss_kb\": %d, \"hwm_kb\": %d}", pid, r, h }' \
            "/proc/$pid/status")")
    done
    local IFS=,
    record "{\"kind\": \"rss\", \"label\": \"$label\", \"workers\": [${rows[*]}]}"
}

# One wrk run; its numbers go to results.jsonl and its output to raw/.
#   run_wrk NAME CONNS URL [seconds] [VAR=value...]
# run_wrk NAME CONNS URL SECONDS [VAR=value...]; with PART set, one part of
# a measurement split in several runs (report.py adds the parts up).
run_wrk() {
    local name=$1 c=$2 url=$3 d=$4; shift 4
    local t=$((c < 2 ? 1 : 2)) file=$RAW/$name-c$c${PART:+-$PART}.txt line
    env "$@" wrk -t"$t" -c"$c" -d"${d}s" --timeout 30s --latency \
        -s bench/wrk.lua "$url" > "$file" 2>&1 || true
    line=$(sed -n 's/^BENCH_JSON //p' "$file")
    [[ -n $line ]] || die "wrk produced no numbers for $name c=$c (see $file)"
    record "{\"kind\": \"http\", \"name\": \"$name\", \"conns\": $c, \"part\": \"${PART:-}\", \"wrk\": $line}"
    say "$(printf '%-15s c=%-3s %s' "$name" "$c" \
        "$($PY -c 'import json,sys; w=json.loads(sys.argv[1]); print("%.0f req/s  p50 %.2f ms  p99 %.2f ms  non2xx %d" % (w["rps"], w["p50_us"]/1e3, w["p99_us"]/1e3, w["non2xx"]))' "$line")")"
}

warm() {   # warm NAME URL [VAR=value...]: one second, not recorded
    local name=$1 url=$2; shift 2
    env "$@" wrk -t1 -c4 -d1s --timeout 30s -s bench/wrk.lua "$url" \
        > "$RAW/$name-warmup.txt" 2>&1 || true
}

# ------------------------------------------------------------ phases

preflight() {
    local tool port
    for tool in wrk gnuplot spawn-fcgi multiwatch nginx mariadb envsubst; do
        command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
    done
    for tool in fcgi-hello argon2-verify smtp-blast; do
        [[ -x $BIN/$tool ]] || die "$BIN/$tool is missing (make bench builds it)"
    done
    # A run killed halfway may have left its stack: stop it first.
    scripts/stack.sh down >> "$STACK_LOG" 2>&1 || true
    stop_pidfile "$HELLO_PID" 5
    for port in "$STATIC_PORT" "$HELLO_PORT"; do
        port_free "$port" || die "port $port (baseline) is in use"
    done
}

stack_up() {
    rm -rf "$VAR"
    say "starting the stack (HTTP $HTTP_PORT, DB $DB_PORT, AMQP $AMQP_PORT, SMTP $SMTP_PORT) in $VAR"
    scripts/stack.sh up >> "$STACK_LOG" 2>&1 || die "stack did not start (see $STACK_LOG)"
    # Only what the bench needs: exporting all of stack.env (SMTP_HOST
    # among it) would change what scripts/stack.sh down stops.
    MAIL_DIR=$(stack_env MAIL_DIR)
    DB_SOCKET=$(stack_env DB_SOCKET)
    DB_USER=$(stack_env DB_USER)
    DB_DATABASE=$(stack_env DB_DATABASE)
    DB_PASSWORD_FILE=$(stack_env DB_PASSWORD_FILE)
}

# One value of the stack's settings file.
stack_env() {
    # shellcheck disable=SC1091
    (. "$VAR/stack.env" && printf '%s' "${!1}")
}

# The baselines on the stack's own nginx: two more server blocks, and the
# site's limit_req guard (10 r/s per client address, meant for floods from
# the internet) raised out of the way of a single local load generator;
# the zone lookup itself still runs on every request.
nginx_baselines() {
    local dir=$VAR/nginx
    local nginx=(nginx -p "$dir/" -c "$dir/nginx.conf" -e "$VAR/log/nginx-error.log")
    sed -i 's/rate=[0-9]*r\/s/rate=1000000r\/s/' "$dir/micro-user.conf"
    # shellcheck disable=SC2016
    MB_STATIC_LISTEN=127.0.0.1:$STATIC_PORT MB_HELLO_LISTEN=127.0.0.1:$HELLO_PORT \
        MB_HELLO_PASS=unix:$HELLO_SOCK \
        envsubst '${MB_STATIC_LISTEN} ${MB_HELLO_LISTEN} ${MB_HELLO_PASS}' \
        < bench/nginx-baselines.conf.in > "$dir/bench-baselines.conf"
    echo "include $dir/bench-baselines.conf;" >> "$dir/micro-user.conf"
    "${nginx[@]}" -t > "$OUT/nginx-reload.log" 2>&1 || die "nginx config test failed (see $OUT/nginx-reload.log)"
    "${nginx[@]}" -s reload >> "$OUT/nginx-reload.log" 2>&1 || die "nginx reload failed"
    wait_for 20 "nginx baselines" port_open "$HELLO_PORT"
    wait_for 20 "nginx baselines" port_open "$STATIC_PORT"
}

start_hello() {
    rm -f "$HELLO_SOCK"
    setsid spawn-fcgi -n -s "$HELLO_SOCK" -M 0666 -- /usr/bin/multiwatch \
        -f "$FCGI_WORKERS" -- "$BIN/fcgi-hello" < /dev/null >> "$VAR/log/fcgi-hello.log" 2>&1 &
    echo $! > "$HELLO_PID"
    wait_for 20 "fcgi-hello pool" test -S "$HELLO_SOCK"
    wait_for 20 "fcgi-hello through nginx" \
        curl -sf -o /dev/null "http://127.0.0.1:$HELLO_PORT/hello"
}

# The mailer sits out the HTTP phases (their events stay queued and are
# purged); it comes back for the mailer and end-to-end phases.
stop_mailer() {
    stop_pidfile "$RUN/mailer-loop.pid" 5
    stop_pidfile "$RUN/reset-mailer.pid" 20
}

start_mailer() {
    MICRO_USER_ENV=$VAR/stack.env setsid scripts/mailer-supervise.sh \
        < /dev/null >> "$VAR/log/reset-mailer.log" 2>&1 &
}

seed() {
    local hash i
    hash=$(ARGON2_OPSLIMIT=${ARGON2_OPSLIMIT:-2} ARGON2_MEMLIMIT=${ARGON2_MEMLIMIT:-67108864} \
        "$BIN/argon2-verify" --hash "$BENCH_PW")
    {
        echo "INSERT INTO users (name, email, password, status, role, password_version, created_at, updated_at) VALUES"
        echo "('bench', '$BENCH_EMAIL', '$hash', 1, 'user', 1, NOW(3), NOW(3))"
        for ((i = 0; i < E2E_N; i++)); do
            echo ",('e2e-$i', 'e2e-$i@bench.example', '$hash', 1, 'user', 1, NOW(3), NOW(3))"
        done
        echo ";"
    } | sql || die "seeding users failed"
    local answer
    answer=$(curl -sf -X POST -H 'Content-Type: application/json' \
        -d "{\"email\": \"$BENCH_EMAIL\", \"password\": \"$BENCH_PW\"}" "$APP/user/token") \
        || die "login of the bench user failed"
    TOKEN=$($PY -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$answer")
    USER_ID=$($PY -c 'import json,sys; print(json.load(sys.stdin)["user_id"])' <<<"$answer")
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$APP/user/$USER_ID" \
        || die "GET /user/$USER_ID with the bench token failed"
}

http_phases() {
    local c fk fu lg part_s=$(( DURATION / 2 < 2 ? 2 : DURATION / 2 ))
    fk="{\"email\": \"$BENCH_EMAIL\"}"
    fu="{\"email\": \"$UNKNOWN_EMAIL\"}"
    lg="{\"email\": \"$BENCH_EMAIL\", \"password\": \"$BENCH_PW\"}"

    # Interleaved per connection count, so that a change in the machine's
    # other load hits a measurement and its baseline alike.
    say "warming up"
    warm static "http://127.0.0.1:$STATIC_PORT/"
    warm fcgi-hello "http://127.0.0.1:$HELLO_PORT/hello"
    warm get-user "$APP/user/$USER_ID" WRK_TOKEN="$TOKEN"
    warm forgot-known "$APP/password/forgot" WRK_METHOD=POST WRK_BODY="$fk"
    warm forgot-unknown "$APP/password/forgot" WRK_METHOD=POST WRK_BODY="$fu"
    rss_snapshot after-warmup
    for c in "${CONNS[@]}"; do
        say "baselines, GET /user/{id}, POST /password/forgot known and unknown: $c connection(s)"
        run_wrk static "$c" "http://127.0.0.1:$STATIC_PORT/" "$DURATION"
        run_wrk fcgi-hello "$c" "http://127.0.0.1:$HELLO_PORT/hello" "$DURATION"
        run_wrk get-user "$c" "$APP/user/$USER_ID" "$DURATION" WRK_TOKEN="$TOKEN"
        # Known and unknown in four parts each, A B B A A B B A, so that a
        # drift of the machine (or of the growing queues) hits both alike,
        # after a second of both that is not counted (the first part after
        # the GET runs used to come out slower, whichever it was).
        local part
        warm forgot-known "$APP/password/forgot" WRK_METHOD=POST WRK_BODY="$fk"
        warm forgot-unknown "$APP/password/forgot" WRK_METHOD=POST WRK_BODY="$fu"
        for part in a b; do
            PART=${part}1 run_wrk forgot-known "$c" "$APP/password/forgot" "$part_s" WRK_METHOD=POST WRK_BODY="$fk"
            PART=${part}1 run_wrk forgot-unknown "$c" "$APP/password/forgot" "$part_s" WRK_METHOD=POST WRK_BODY="$fu"
            PART=${part}2 run_wrk forgot-unknown "$c" "$APP/password/forgot" "$part_s" WRK_METHOD=POST WRK_BODY="$fu"
            PART=${part}2 run_wrk forgot-known "$c" "$APP/password/forgot" "$part_s" WRK_METHOD=POST WRK_BODY="$fk"
        done
    done
    rss_snapshot after-http

    say "POST /user/token, each next to the raw argon2id verify rate"
    local p line
    for c in "${CONNS[@]}"; do
        p=$((c < 2 ? 1 : 2))
        line=$(ARGON2_OPSLIMIT=${ARGON2_OPSLIMIT:-2} ARGON2_MEMLIMIT=${ARGON2_MEMLIMIT:-67108864} \
            "$BIN/argon2-verify" -p "$p" -t "$DURATION" | tee "$RAW/argon2-verify-c$c.txt")
        say "argon2id verify, $p process(es): $line"
        record "$(awk -v c="$c" '{ printf "{\"kind\": \"argon2\", \"conns\": %d, \"procs\": %d, \"opslimit\": %s, \"memlimit\": %s, \"verifies\": %d, \"seconds\": %s, \"rate\": %s}", c, $2, $4, $6, $8, $10, $12 }' <<<"$line")"
        run_wrk login "$c" "$APP/user/token" "$((DURATION * 2))" WRK_METHOD=POST WRK_BODY="$lg"
    done
    sleep 2     # logins still queued in nginx finish before the snapshot
    rss_snapshot after-login
}

# One round: N events queued while the mailer is stopped, then the mailer
# started and timed from the first .eml to the last; then the sink's own
# ceiling (a blaster on 4 reused sessions) and, for context, one reused
# session. Rounds alternate the two, so the machine's other load hits both.
mailer_round() {
    local round=$1 before after depth i last_count stall sample
    stop_mailer
    say "mailer round $round: queueing $MAIL_N events"
    rmq purge_queue "$QUEUE" > /dev/null || die "purging $QUEUE failed"
    echo "DELETE FROM outbox;" | sql
    $PY bench/loadgen.py burst --url "$APP/password/forgot" --n "$MAIL_N" --conc 8 \
        --emails "$BENCH_EMAIL" > "$RAW/mailer-enqueue-$round.json" || die "queueing events failed (see $RAW/mailer-enqueue-$round.json)"
    for ((i = 0; i < 40; i++)); do
        depth=$(queue_depth)
        ((${depth:-0} >= MAIL_N)) && break
        sleep 0.5
    done
    say "mailer round $round: $depth events queued; starting reset-mailer"
    before=$(mail_count)
    start_mailer
    last_count=$before; stall=0
    while :; do
        sleep 0.5
        after=$(mail_count)
        ((after - before >= MAIL_N)) && break
        if ((after == last_count)); then
            ((++stall > 30)) && break       # 15 s without a new message
        else
            stall=0
        fi
        last_count=$after
    done
    ls "$MAIL_DIR" | grep '\.eml$' | sort | tail -n "$((after - before))" > "$RAW/mailer-files-$round.txt"
    record "$($PY - "$RAW/mailer-files-$round.txt" "$MAIL_N" "$depth" "$round" <<'EOF'
import json, sys
names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ts = [int(n.split("-", 1)[0]) for n in names]
n = len(ts)
secs = (max(ts) - min(ts)) / 1e9 if n > 1 else 0.0
print(json.dumps({"kind": "mailer", "round": int(sys.argv[4]), "wanted": int(sys.argv[2]),
                  "queued": int(sys.argv[3] or 0), "delivered": n, "seconds": round(secs, 3),
                  "rate": round((n - 1) / secs, 1) if secs > 0 else 0}))
EOF
)"
    say "mailer round $round: $(tail -n1 "$RESULTS")"

    # The sink's own ceiling, with one of the messages the mailer just sent.
    sample=$VAR/sample.eml
    [[ -s $RAW/mailer-files-$round.txt ]] || die "the mailer delivered nothing (see $VAR/log/reset-mailer.log)"
    tail -n +3 "$MAIL_DIR/$(tail -n1 "$RAW/mailer-files-$round.txt")" > "$sample"
    local mode args
    for mode in reused-s4 reused-s1; do
        case $mode in
            reused-s4) args=(-s 4) ;;
            reused-s1) args=(-s 1) ;;
        esac
        "$BIN/smtp-blast" -p "$SMTP_PORT" -n "$MAIL_N" "${args[@]}" -f "$sample" \
            > "$RAW/smtp-blast-$mode-$round.txt" 2>&1 || die "smtp-blast failed (see $RAW/smtp-blast-$mode-$round.txt)"
        record "$(awk -v m="$mode" -v r="$round" '/^messages/ { printf "{\"kind\": \"sink\", \"mode\": \"%s\", \"round\": %d, \"messages\": %d, \"seconds\": %s, \"rate\": %s, \"bytes\": %d}", m, r, $2, $4, $6, $11 }' \
            "$RAW/smtp-blast-$mode-$round.txt")"
        say "mailer round $round: sink ($mode): $(cat "$RAW/smtp-blast-$mode-$round.txt")"
    done
}

mailer_phase() {
    local round
    for ((round = 1; round <= MAIL_ROUNDS; round++)); do
        mailer_round "$round"
    done
}

e2e_phase() {
    say "end to end: POST /password/forgot at $E2E_RATE/s for ${E2E_SECS}s, to the .eml in the sink"
    $PY bench/loadgen.py paced --url "$APP/password/forgot" --rate "$E2E_RATE" \
        --duration "$E2E_SECS" --emails 'e2e-%d@bench.example' \
        --out "$RAW/e2e-sent.json" > "$RAW/e2e-answers.json" || die "paced client failed"
    $PY bench/loadgen.py e2e --sent "$RAW/e2e-sent.json" --mail-dir "$MAIL_DIR" \
        --timeout 60 --out "$RAW/e2e-delays.json" > "$RAW/e2e-summary.json" || true
    record "{\"kind\": \"e2e\", \"answers\": $(cat "$RAW/e2e-answers.json"), \"mail\": $(cat "$RAW/e2e-summary.json")}"
    say "end to end: $(cat "$RAW/e2e-summary.json")"
}

main() {
    mkdir -p "$OUT"
    rm -rf "$RAW" "$RESULTS" "$OUT/results.md" "$OUT/results.png" "$OUT/chart.dat"
    mkdir -p "$RAW"
    : > "$STACK_LOG"
    preflight
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    record "{\"kind\": \"meta\", \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"nproc\": $(nproc), \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"duration\": $DURATION, \"workers\": $FCGI_WORKERS, \"argon2_opslimit\": ${ARGON2_OPSLIMIT:-2}, \"argon2_memlimit\": ${ARGON2_MEMLIMIT:-67108864}}"
    stack_up
    stop_mailer
    nginx_baselines
    start_hello
    seed
    rss_snapshot start
    http_phases
    mailer_phase
    e2e_phase
    rss_snapshot end
    record "{\"kind\": \"meta_end\", \"loadavg_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"seconds\": $((SECONDS - T_START))}"
    $PY bench/report.py "$OUT"
    (cd "$OUT" && gnuplot "$ROOT/bench/chart.gp") > "$RAW/gnuplot.txt" 2>&1 \
        || echo "bench: gnuplot failed (see $RAW/gnuplot.txt)" >&2
}

main "$@"

#!/usr/bin/env bash
# What `make test` calls after building (all + asan): unit tests, then a
# private stack on test ports in a temporary folder with the sanitizer
# builds, the integration and e2e suites against it, and teardown whatever
# happened. Logs are copied to build/test-logs/. Any sanitizer report fails
# the run. KEEP_VAR=1 keeps the temporary folder.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# Test ports and cheap settings (README "The local stack", make test column).
export HTTP_PORT=18080 DB_PORT=13307 AMQP_PORT=15673 AMQP_DIST_PORT=15773 SMTP_PORT=12525
export FCGI_WORKERS=${FCGI_WORKERS:-2}
export ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 OUTBOX_RELAY_AGE=3 MAILER_RETRY_BASE=1
# Limits the suites can live with; the throttle tests read them from
# stack.env and go past them from their own loopback addresses.
export THROTTLE_FORGOT_ADDR_MINUTE=5 THROTTLE_FORGOT_ADDR_HOUR=30 \
    THROTTLE_FORGOT_IP_HOUR=1000 THROTTLE_LOGIN_ACCOUNT=10 \
    THROTTLE_LOGIN_IP=1000 THROTTLE_TOKEN_IP=300
export USER_FCGI_BIN=build/asan/user-fcgi RESET_MAILER_BIN=build/asan/reset-mailer
unset SMTP_HOST    # the tests need the sink

FAILED=()
STACK_UP=0
PYTEST=(/usr/bin/python3 -m pytest -q -p no:cacheprovider)

# Run one step, remember its name if it fails.
step() {
    local name=$1; shift
    echo "=== test: $name"
    "$@" || { echo "=== test: $name FAILED"; FAILED+=("$name"); return 1; }
}

has_tests() { compgen -G "$1/test_*.py" >/dev/null || compgen -G "$1/*_test.py" >/dev/null; }

keep_logs() {
    rm -rf build/test-logs
    mkdir -p build/test-logs
    cp -r "$VAR_DIR/log/." build/test-logs/ 2>/dev/null || true
    cp -r "$VAR_DIR/mail" build/test-logs/mail 2>/dev/null || true
    cp "$VAR_DIR/stack.env" build/test-logs/ 2>/dev/null || true
}

# Sanitizer reports are written by log_path as asan.<pid> / ubsan.<pid>.
check_sanitizers() {
    local reports=() f
    [[ -d $VAR_DIR/log ]] || return 0
    mapfile -t reports < <(find "$VAR_DIR/log" -maxdepth 1 \( -name 'asan*' -o -name 'ubsan*' \) -type f | sort)
    ((${#reports[@]})) || return 0
    for f in "${reports[@]}"; do
        echo "=== sanitizer report $f"
        cat "$f"
    done
    FAILED+=("sanitizers (${#reports[@]} reports)")
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if ((STACK_UP)) || [[ -d ${VAR_DIR:-/nonexistent}/run ]]; then
        scripts/stack.sh down || FAILED+=("stack down")
    fi
    if [[ -n ${VAR_DIR:-} && -d $VAR_DIR ]]; then
        keep_logs
        check_sanitizers
        if [[ ${KEEP_VAR:-0} == 1 ]]; then
            echo "test: kept $VAR_DIR"
        else
            rm -rf "$VAR_DIR"
        fi
    fi
    ((rc == 0)) || ((${#FAILED[@]})) || FAILED+=("interrupted (exit $rc)")
    if ((${#FAILED[@]})); then
        local joined
        joined=$(printf '%s, ' "${FAILED[@]}")
        echo "test: FAIL: ${joined%, } (logs in build/test-logs/)"
        exit 1
    fi
    echo "test: PASS: ${PASSED[*]} (logs in build/test-logs/)"
    exit 0
}

main() {
    PASSED=()
    step "unit" make unit && PASSED+=(unit)
    step "fuzz-smoke" make fuzz-smoke && PASSED+=(fuzz-smoke)

    VAR_DIR=$(mktemp -d -t micro-user-test.XXXXXX)
    export VAR_DIR
    trap finish EXIT
    trap 'exit 130' INT TERM

    # Sanitizer options only for the stack's programs, not for make unit.
    if step "stack up" env \
        ASAN_OPTIONS="detect_leaks=1:log_path=$VAR_DIR/log/asan" \
        UBSAN_OPTIONS="print_stacktrace=1:log_path=$VAR_DIR/log/ubsan" \
        scripts/stack.sh up; then
        STACK_UP=1
        export STACK_ENV=$VAR_DIR/stack.env
        step "integration" "${PYTEST[@]}" tests/integration && PASSED+=(integration)
        if has_tests tests/e2e; then
            step "e2e" "${PYTEST[@]}" tests/e2e && PASSED+=(e2e)
        fi
    fi
}

main "$@"

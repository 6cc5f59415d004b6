#!/usr/bin/env bash
# Install every Debian package micro-user needs to build, run and test.
# Installs only what is missing; apt-get update runs only then.
# Works as root, or through sudo otherwise. Prints one line.
set -euo pipefail

PACKAGES=(
    # build
    build-essential pkg-config clang libclang-rt-14-dev
    libfcgi-dev libjson-c-dev libmariadb-dev librabbitmq-dev libesmtp-dev
    libsodium-dev libjwt-dev libcrypt-dev
    # run: the local stack
    spawn-fcgi multiwatch libfcgi-bin nginx-light mariadb-server mariadb-client
    rabbitmq-server cron util-linux curl gettext-base python3 python3-aiosmtpd
    python3-pika openssl
    # test
    python3-pytest python3-requests python3-selenium chromium chromium-driver
    fonts-noto-cjk
    valgrind
    # bench and packaging (compose validation, man page lint)
    wrk gnuplot-nox docker-compose python3-yaml mandoc
)

missing() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [[ $status == installed ]] || echo "$pkg"
    done
}

main() {
    local todo sudo=()
    mapfile -t todo < <(missing)
    if ((${#todo[@]} == 0)); then
        echo "install-deps: all present (${#PACKAGES[@]} packages)"
        return 0
    fi
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${todo[@]}" >/dev/null
    echo "install-deps: installed ${todo[*]}"
}

main "$@"

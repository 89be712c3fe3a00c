#!/usr/bin/env bash
# Debian packages the tests need: Chromium for the real-browser UI tests, PostgreSQL for the
# run of the suite on PostgreSQL (scripts/with-postgres.sh starts a throwaway server), nginx
# as the load balancer in front of several app processes (tests/test_processes.py).
set -euo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || packages+=(postgresql)
[ -x /usr/sbin/nginx ] || packages+=(nginx)
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing Debian's ${packages[*]} for the tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null

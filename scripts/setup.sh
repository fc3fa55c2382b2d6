#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for Hoist's demo and tests: nats-server and haproxy
# from Debian's packages. Idempotent; safe to run again. Needs root (or sudo) only when installing.
set -euo pipefail

missing=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v tar >/dev/null 2>&1 || missing+=(tar)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: nats-server, haproxy, tar and openssl are present"
  exit 0
fi

echo "setup: installing ${missing[*]} from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

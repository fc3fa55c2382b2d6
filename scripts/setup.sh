#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for Hoist's demo and tests: nats-server and haproxy
# from Debian's packages, chromium (the dashboard's browser test drives it with playwright-core),
# protoc with the well-known types, Python gRPC and systemd-analyze (reflection and unit-file tests),
# and the database servers the database tests use (PostgreSQL 15 at 127.0.0.1:5432 with trust auth
# for user postgres, MariaDB 10.11 at 127.0.0.1:3306 with root and no password), which it also
# starts when they are down. Idempotent and quick when all is present.
# Needs root (or sudo) only when installing or starting. For test machines only: it opens the local
# database servers to passwordless logins from 127.0.0.1.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

missing=()
declare -A why
need() { missing+=("$1"); why[$1]="$2"; }
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need nats-server "the NATS server: \`hoist coordinator\` embeds one, the demo and the tests start their own"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need haproxy "the load balancer of the demo and of the drain/rejoin hook tests"
command -v tar >/dev/null 2>&1 || need tar "GNU tar: the snapshot benchmark's yardstick"
command -v openssl >/dev/null 2>&1 || need openssl "makes the TLS certificates of the gRPC security tests"
[ -x /usr/bin/chromium ] || need chromium "the browser the dashboard test drives (playwright-core)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || need postgresql "PostgreSQL 15 for the database snapshot tests"
command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1 || need postgresql-client "pg_dump/pg_restore: how Hoist snapshots PostgreSQL databases"
[ -x /usr/sbin/mariadbd ] || need mariadb-server "MariaDB for the database snapshot tests"
command -v mariadb-dump >/dev/null 2>&1 || need mariadb-client "mariadb-dump: how Hoist snapshots MariaDB databases"
command -v protoc >/dev/null 2>&1 || need protobuf-compiler "protoc: compiles proto/ into the descriptors gRPC reflection serves (npm run gen:proto, test/grpc-types.test.ts)"
[ -f /usr/include/google/protobuf/timestamp.proto ] || need libprotobuf-dev "the protobuf well-known types (google/protobuf/timestamp.proto) protoc needs"
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need python3-grpcio "Python gRPC: the reflection test's client that is not grpc-js"
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || need python3-protobuf "Python protobuf, for that client"
command -v systemd-analyze >/dev/null 2>&1 || need systemd "systemd-analyze verifies the unit files in examples/systemd (test/systemd-units.test.ts)"

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing from Debian's packages:"
  for package in "${missing[@]}"; do echo "  ${package}: ${why[$package]}"; done
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  apt_install "${missing[@]}"
fi

# PostgreSQL: start the cluster when it is down; trust logins from 127.0.0.1 (the tests' servers).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  hba=/etc/postgresql/15/main/pg_hba.conf
  if [ -f "$hba" ] && ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  echo "setup: starting PostgreSQL 15"
  $SUDO pg_ctlcluster --skip-systemctl-redirect 15 main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi

# MariaDB: start mariadbd when it is down; root from 127.0.0.1 without a password.
if ! mariadb-admin -h 127.0.0.1 -P 3306 -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
  if ! mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1; then
    echo "setup: starting MariaDB"
    $SUDO install -d -o mysql -g mysql /run/mysqld
    $SUDO start-stop-daemon --start --oknodo --background --chuid mysql --exec /usr/sbin/mariadbd
    for _ in $(seq 1 100); do mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  if ! mariadb -h 127.0.0.1 -P 3306 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    # Debian's root logs in by unix socket only: allow an empty password too, for the tests.
    $SUDO mariadb -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
  fi
fi

echo "setup: nats-server, haproxy, tar, openssl, chromium, protoc, Python gRPC, systemd-analyze, PostgreSQL and MariaDB are present and the databases answer"

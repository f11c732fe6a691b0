#!/usr/bin/env bash
# Throw-away Prometheus Alertmanager on 127.0.0.1 for development and tests,
# using Debian's prometheus-alertmanager binary. See `alertmanager.sh --help`.
set -euo pipefail

readonly AM_BIN="prometheus-alertmanager"
readonly AM_PACKAGE="prometheus-alertmanager"
readonly DEFAULT_PORT=9093
readonly START_TIMEOUT="${ALERTMANAGER_START_TIMEOUT:-30}"
readonly STOP_TIMEOUT="${ALERTMANAGER_STOP_TIMEOUT:-30}"

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND [ARGS]

Runs a throw-away Prometheus Alertmanager (Debian package $AM_PACKAGE)
on 127.0.0.1, for development and tests. High-availability gossip is off.

Commands:
  install
      Install $AM_PACKAGE with apt-get if $AM_BIN is not on PATH
      (apt-get update only when apt does not know the package yet).
      Service start-up by the package is blocked during the install, and a
      system Alertmanager left listening on port $DEFAULT_PORT is reported.

  start DATA_DIR [PORT]
      Write DATA_DIR/alertmanager.yml (one "null" receiver that notifies
      nobody, group_wait 0s, resolve_timeout 5m) and start Alertmanager in
      the background on 127.0.0.1:PORT (default $DEFAULT_PORT):
        DATA_DIR/data               silences and notification log
        DATA_DIR/alertmanager.pid   its pid
        DATA_DIR/alertmanager.log   its stdout/stderr (previous run: .log.1)
      Returns once GET /-/ready answers 200 (at most
      \$ALERTMANAGER_START_TIMEOUT s, default 30). On failure it prints the
      last 50 log lines to stderr, kills the process and exits non-zero.
      Exits 0 without doing anything if it already runs on that PORT.
      Does not install: run "install" first.

  stop DATA_DIR
      SIGTERM the Alertmanager of DATA_DIR, SIGKILL it if it has not exited
      after \$ALERTMANAGER_STOP_TIMEOUT s (default 30). Exits 0 if it was
      not running.

  -h, --help
      Show this help.

API once started: http://127.0.0.1:PORT/api/v2/alerts (POST a JSON list of
alerts, GET to read them back).
EOF
}

die() {
  echo "alertmanager.sh: error: $*" >&2
  exit 1
}

log() {
  echo "alertmanager.sh: $*" >&2
}

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_knows_package() {
  apt-cache policy "$AM_PACKAGE" 2>/dev/null | grep -q 'Candidate: [^(]'
}

# Debian's maintainer scripts start the packaged service (init.d or systemd)
# through invoke-rc.d, which obeys policy-rc.d: exit 101 means "do not start".
# We only want the binary, never a system instance holding port 9093.
install_with_services_blocked() {
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from alertmanager.sh install\nexit 101\n' \
      | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    created=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$AM_PACKAGE" || rc=$?
  ((created)) && as_root rm -f "$policy"
  return "$rc"
}

# On a machine booted with systemd the unit is enabled by the package and
# would start at the next boot (or may already run): turn it off.
disable_system_service() {
  [[ -d /run/systemd/system ]] || return 0
  as_root systemctl disable --now "$AM_PACKAGE" >/dev/null 2>&1 || true
}

report_port_owner() {
  if port_open "$DEFAULT_PORT"; then
    log "warning: something listens on port $DEFAULT_PORT after the install:"
    ss -ltnp "sport = :$DEFAULT_PORT" >&2 2>/dev/null || true
  fi
}

cmd_install() {
  if command -v "$AM_BIN" >/dev/null; then
    log "$AM_BIN already installed ($(command -v "$AM_BIN"))"
  else
    command -v apt-get >/dev/null || die "apt-get not found: install $AM_PACKAGE by hand"
    apt_knows_package || as_root apt-get update
    install_with_services_blocked || die "apt-get install $AM_PACKAGE failed"
    disable_system_service
    command -v "$AM_BIN" >/dev/null || die "$AM_PACKAGE installed but $AM_BIN is not on PATH"
    log "installed $("$AM_BIN" --version 2>&1 | head -n 1)"
  fi
  report_port_owner
}

resolve_data_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

validate_port() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
    die "invalid port '$1' (need 1..65535)"
  fi
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the pid of DATA_DIR's Alertmanager if it is alive; the cmdline check
# guards against a stale pid file whose pid was reused by another process.
running_pid() {
  local data_dir="$1" pid
  [[ -f "$data_dir/alertmanager.pid" ]] || return 1
  pid="$(<"$data_dir/alertmanager.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
    | grep -qF -- "--config.file=$data_dir/alertmanager.yml" || return 1
  echo "$pid"
}

write_config() {
  cat >"$1/alertmanager.yml" <<'EOF'
# Throw-away config written by scripts/alertmanager.sh start: overwritten on
# every start. Alerts are accepted, grouped and sent to nobody.
global:
  resolve_timeout: 5m
route:
  receiver: "null"
  group_by: ["alertname"]
  # No batching delay: tests see notifications (and groups) right away.
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
EOF
}

ready() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/-/ready" 2>/dev/null
}

launch() {
  local data_dir="$1" port="$2" pid
  # setsid + nohup + no inherited stdio: Alertmanager must outlive this
  # script and must not keep a caller's pipe open.
  # An empty --cluster.listen-address turns off HA gossip (and port 9094).
  setsid nohup "$AM_BIN" \
      --config.file="$data_dir/alertmanager.yml" \
      --storage.path="$data_dir/data" \
      --web.listen-address="127.0.0.1:$port" \
      --cluster.listen-address= \
      </dev/null >>"$data_dir/alertmanager.log" 2>&1 &
  pid=$!
  echo "$pid" >"$data_dir/alertmanager.pid"
  echo "$port" >"$data_dir/alertmanager.port"
  echo "$pid"
}

fail_start() {
  local data_dir="$1" reason="$2" pid
  echo "---- last 50 lines of $data_dir/alertmanager.log ----" >&2
  tail -n 50 "$data_dir/alertmanager.log" >&2 || true
  echo "----" >&2
  if pid="$(running_pid "$data_dir")"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$data_dir/alertmanager.pid"
  die "$reason"
}

wait_until_ready() {
  local data_dir="$1" port="$2" pid="$3" deadline
  deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || fail_start "$data_dir" "alertmanager exited during startup"
    ready "$port" && return 0
    sleep 0.2
  done
  fail_start "$data_dir" "alertmanager not ready on 127.0.0.1:$port after ${START_TIMEOUT}s"
}

cmd_start() {
  (($# >= 1 && $# <= 2)) || die "usage: alertmanager.sh start DATA_DIR [PORT]"
  local data_dir port pid running_port
  data_dir="$(resolve_data_dir "$1")"
  port="${2:-$DEFAULT_PORT}"
  validate_port "$port"
  command -v "$AM_BIN" >/dev/null \
    || die "$AM_BIN not found: run '$(basename "$0") install' first"
  command -v curl >/dev/null || die "curl not found (needed to wait for /-/ready)"

  if pid="$(running_pid "$data_dir")"; then
    running_port="$(cat "$data_dir/alertmanager.port" 2>/dev/null || echo '?')"
    [[ "$running_port" == "$port" ]] \
      || die "already running for $data_dir on port $running_port (pid $pid): stop it first"
    log "already running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  port_open "$port" && die "port $port on 127.0.0.1 is already in use"

  local log_file="$data_dir/alertmanager.log"
  [[ -f "$log_file" ]] && mv -f "$log_file" "$log_file.1"
  : >"$log_file"
  mkdir -p "$data_dir/data"
  write_config "$data_dir"
  pid="$(launch "$data_dir" "$port")"
  wait_until_ready "$data_dir" "$port" "$pid"
  log "ready on http://127.0.0.1:$port (pid $pid)"
}

cmd_stop() {
  (($# == 1)) || die "usage: alertmanager.sh stop DATA_DIR"
  local data_dir="$1" pid deadline
  [[ -d "$data_dir" ]] || { log "not running ($data_dir does not exist)"; return 0; }
  data_dir="$(cd "$data_dir" && pwd)"
  if ! pid="$(running_pid "$data_dir")"; then
    rm -f "$data_dir/alertmanager.pid"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$data_dir/alertmanager.pid"
  log "stopped (pid $pid)"
}

main() {
  (($# >= 1)) || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    install) (($# == 0)) || die "usage: alertmanager.sh install"; cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"

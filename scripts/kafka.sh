#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller) on 127.0.0.1 for
# development and tests, run straight from the Maven Central jars so that
# nothing but Java 17+ and Maven is needed. See `kafka.sh --help`.
set -euo pipefail

readonly KAFKA_VERSION="4.4.0"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly SUPPORT_DIR="$SCRIPT_DIR/kafka"
readonly CACHE_ROOT="${SIEM_CACHE_DIR:-$HOME/.cache/siem}"
readonly KAFKA_HOME_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
readonly LIBS_DIR="$KAFKA_HOME_DIR/libs"
# Written last by fetch: a libs/ without it may be a half-finished download.
readonly COMPLETE_MARKER="$KAFKA_HOME_DIR/.fetch-complete"
readonly DEFAULT_PORT=9092
# The controller listens on PORT + CONTROLLER_PORT_OFFSET. Not +1: with the
# defaults that would be 9093, Alertmanager's default port (alertmanager.sh).
readonly CONTROLLER_PORT_OFFSET=100
readonly START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
readonly STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
readonly STARTED_MESSAGE="Kafka Server started"

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND [ARGS]

Runs a real Apache Kafka $KAFKA_VERSION broker (one KRaft node acting as both
broker and controller, listening on 127.0.0.1 only) from its Maven Central
jars. Meant for development and tests.

Commands:
  fetch
      Download the broker jars and their runtime dependencies (via mvn, so
      they are also cached in ~/.m2) into
        \${SIEM_CACHE_DIR:-\$HOME/.cache/siem}/kafka-$KAFKA_VERSION/libs
      (currently: $LIBS_DIR).
      Does nothing if a complete download is already there.

  start DATA_DIR [PORT]
      Fetch if needed, then start a broker whose state lives in DATA_DIR.
      PORT (default $DEFAULT_PORT) is the client listener; the controller
      listens on PORT+$CONTROLLER_PORT_OFFSET (default $((DEFAULT_PORT + CONTROLLER_PORT_OFFSET)); not PORT+1, which
      would clash with Alertmanager's default 9093). Both bind to 127.0.0.1.
      On first use DATA_DIR gets server.properties and a freshly formatted
      KRaft log directory (DATA_DIR/kraft-logs). Later starts on the same
      DATA_DIR reuse both (the data survives a restart); PORT may then be
      omitted, and must match the first one if given.
      Topic auto-creation is left at Kafka's default (enabled), with
      num.partitions=1 and every replication factor 1.
      The broker runs in the background with the JVM options of Kafka's own
      kafka-server-start.sh (heap 1 GiB, G1), or \$KAFKA_HEAP_OPTS and
      \$KAFKA_JVM_PERFORMANCE_OPTS when set, as there:
        DATA_DIR/kafka.pid   its pid
        DATA_DIR/kafka.log   its stdout/stderr (previous run: kafka.log.1)
      Returns once the port is open and the log says "$STARTED_MESSAGE"
      (at most \$KAFKA_START_TIMEOUT s, default 60). On failure it prints
      the last 50 log lines to stderr, kills the broker and exits non-zero.
      Exits 0 without doing anything if the broker of DATA_DIR is running.

  stop DATA_DIR
      SIGTERM the broker of DATA_DIR, SIGKILL it if it has not exited after
      \$KAFKA_STOP_TIMEOUT s (default 30). Exits 0 if it was not running.

  -h, --help
      Show this help.

Environment:
  SIEM_CACHE_DIR        cache root (default \$HOME/.cache/siem)
  JAVA_HOME             Java 17+ to use (default: java on PATH)
  KAFKA_START_TIMEOUT   seconds start waits for the broker (default 60)
  KAFKA_STOP_TIMEOUT    seconds stop waits before SIGKILL (default 30)
EOF
}

die() {
  echo "kafka.sh: error: $*" >&2
  exit 1
}

log() {
  echo "kafka.sh: $*" >&2
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || die "java not found: install Java 17+ or set JAVA_HOME"
  fi
}

is_fetched() {
  [[ -f "$COMPLETE_MARKER" && -d "$LIBS_DIR" ]]
}

cmd_fetch() {
  is_fetched && return 0
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install -y maven)"
  mkdir -p "$CACHE_ROOT"
  # Parallel test runs may all fetch at once: let one download, the rest wait.
  exec 9>"$CACHE_ROOT/kafka-$KAFKA_VERSION.lock"
  flock 9
  if is_fetched; then
    exec 9>&-
    return 0
  fi
  log "fetching Kafka $KAFKA_VERSION jars into $LIBS_DIR"
  local work
  work="$(mktemp -d "$CACHE_ROOT/kafka-$KAFKA_VERSION.fetch.XXXXXX")"
  # Maven is run on a copy of the pom so that no target/ lands in the repo.
  cp "$SUPPORT_DIR/pom.xml" "$work/pom.xml"
  if ! mvn -q -B -f "$work/pom.xml" \
      dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" \
      -DincludeScope=runtime \
      -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
    tail -n 50 "$work/mvn.log" >&2
    rm -rf "$work"
    die "mvn could not download Kafka $KAFKA_VERSION (see output above)"
  fi
  [[ -f "$work/libs/kafka_2.13-$KAFKA_VERSION.jar" ]] \
    || { rm -rf "$work"; die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  mkdir -p "$KAFKA_HOME_DIR"
  rm -rf "$LIBS_DIR"
  mv "$work/libs" "$LIBS_DIR"
  rm -rf "$work"
  touch "$COMPLETE_MARKER"
  exec 9>&-
  log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars"
}

# Absolute path of DATA_DIR, created if missing, so that the pid file and
# the paths written into server.properties do not depend on the caller's cwd.
resolve_data_dir() {
  local dir="$1"
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

validate_port() {
  local port="$1"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port + CONTROLLER_PORT_OFFSET > 65535)); then
    die "invalid port '$port' (need 1..$((65535 - CONTROLLER_PORT_OFFSET)))"
  fi
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the pid of DATA_DIR's broker if it is alive. The cmdline check
# guards against a stale pid file whose pid now belongs to something else.
running_pid() {
  local pid_file="$1/kafka.pid" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka\.Kafka " || return 1
  echo "$pid"
}

# Ports of an existing server.properties, from its listeners line, so that
# a restart uses what the node was formatted with.
configured_port() {
  sed -n 's#^listeners=.*PLAINTEXT://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$1/server.properties"
}

configured_controller_port() {
  sed -n 's#^listeners=.*CONTROLLER://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$1/server.properties"
}

write_server_properties() {
  local data_dir="$1" port="$2" controller_port="$3" template
  template="$(<"$SUPPORT_DIR/server.properties.template")"
  # Replacements are quoted so that bash 5.2 does not treat '&' in a path
  # as "the matched text".
  template="${template//@CONTROLLER_PORT@/"$controller_port"}"
  template="${template//@PORT@/"$port"}"
  template="${template//@LOG_DIR@/"$data_dir/kraft-logs"}"
  printf '%s\n' "$template" >"$data_dir/server.properties"
}

is_formatted() {
  [[ -f "$1/kraft-logs/meta.properties" ]]
}

# Runs a Kafka main class on the cached jars with our log4j2 config.
run_kafka_class() {
  "$(java_bin)" \
    -Dlog4j2.configurationFile="$SUPPORT_DIR/log4j2.xml" \
    -cp "$LIBS_DIR/*" "$@"
}

format_storage() {
  local data_dir="$1" log_file="$2" cluster_id
  # log4j also writes to stdout (e.g. an MBean registration line): keep only
  # the last line and check it looks like a Kafka Uuid, or format would
  # happily accept the whole blob as the cluster id.
  cluster_id="$(run_kafka_class kafka.tools.StorageTool random-uuid 2>>"$log_file" | tail -n 1)" \
    || die "StorageTool random-uuid failed (see $log_file)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] \
    || die "StorageTool random-uuid printed '$cluster_id', not a cluster id"
  log "formatting $data_dir/kraft-logs (cluster id $cluster_id)"
  # --standalone: this node is the whole controller quorum (dynamic quorum).
  run_kafka_class kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$data_dir/server.properties" --standalone \
      >>"$log_file" 2>&1 \
    || { tail -n 50 "$log_file" >&2; die "formatting $data_dir failed"; }
}

launch_broker() {
  local data_dir="$1" log_file="$2" pid
  # setsid + nohup + no inherited stdio: the broker must outlive this script
  # and must not keep a caller's pipe open (e.g. subprocess.run(capture_output)).
  # Kafka's own defaults: with half a GiB, G1 marked the old generation
  # continuously and the broker spent ~40 % more CPU per event.
  local heap="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
  local performance="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15}"
  # shellcheck disable=SC2086  # each holds several JVM options: split on purpose
  setsid nohup "$(java_bin)" \
      $heap $performance \
      -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$SUPPORT_DIR/log4j2.xml" \
      -cp "$LIBS_DIR/*" \
      kafka.Kafka "$data_dir/server.properties" \
      </dev/null >>"$log_file" 2>&1 &
  pid=$!
  echo "$pid" >"$data_dir/kafka.pid"
  echo "$pid"
}

fail_start() {
  local data_dir="$1" log_file="$2" reason="$3" pid
  echo "---- last 50 lines of $log_file ----" >&2
  tail -n 50 "$log_file" >&2 || true
  echo "----" >&2
  # A broker that did not come up in time is killed so it cannot linger.
  if pid="$(running_pid "$data_dir")"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$data_dir/kafka.pid"
  die "$reason"
}

wait_until_started() {
  local data_dir="$1" log_file="$2" port="$3" pid="$4" deadline
  deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null \
      || fail_start "$data_dir" "$log_file" "broker exited during startup"
    if port_open "$port" && grep -q "$STARTED_MESSAGE" "$log_file"; then
      return 0
    fi
    sleep 0.5
  done
  fail_start "$data_dir" "$log_file" "broker not ready on 127.0.0.1:$port after ${START_TIMEOUT}s"
}

cmd_start() {
  (($# >= 1 && $# <= 2)) || die "usage: kafka.sh start DATA_DIR [PORT]"
  local data_dir port controller_port log_file pid stored_port
  data_dir="$(resolve_data_dir "$1")"
  port="${2:-}"
  log_file="$data_dir/kafka.log"

  if is_formatted "$data_dir"; then
    # The controller's own endpoint is recorded in the KRaft log, so moving
    # a formatted node to other ports is not supported: reuse the first one.
    stored_port="$(configured_port "$data_dir")"
    [[ -n "$stored_port" ]] || die "$data_dir is formatted but its server.properties has no port"
    [[ -z "$port" || "$port" == "$stored_port" ]] \
      || die "$data_dir was set up for port $stored_port, not $port (use a new DATA_DIR)"
    port="$stored_port"
    controller_port="$(configured_controller_port "$data_dir")"
    [[ -n "$controller_port" ]] || die "$data_dir is formatted but its server.properties has no controller port"
  else
    port="${port:-$DEFAULT_PORT}"
    validate_port "$port"
    controller_port=$((port + CONTROLLER_PORT_OFFSET))
  fi

  if pid="$(running_pid "$data_dir")"; then
    log "already running on 127.0.0.1:$port (pid $pid, data $data_dir)"
    return 0
  fi
  port_open "$port" && die "port $port on 127.0.0.1 is already in use"
  port_open "$controller_port" && die "controller port $controller_port on 127.0.0.1 is already in use"

  cmd_fetch

  # Keep the previous run's log for post-mortems; the readiness check
  # greps the whole current log, so it must only hold this run.
  [[ -f "$log_file" ]] && mv -f "$log_file" "$log_file.1"
  : >"$log_file"

  if is_formatted "$data_dir"; then
    log "reusing formatted $data_dir"
  else
    write_server_properties "$data_dir" "$port" "$controller_port"
    format_storage "$data_dir" "$log_file"
  fi

  pid="$(launch_broker "$data_dir" "$log_file")"
  wait_until_started "$data_dir" "$log_file" "$port" "$pid"
  log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$port (controller $controller_port, pid $pid)"
}

cmd_stop() {
  (($# == 1)) || die "usage: kafka.sh stop DATA_DIR"
  local data_dir="$1" pid deadline
  [[ -d "$data_dir" ]] || { log "not running ($data_dir does not exist)"; return 0; }
  data_dir="$(cd "$data_dir" && pwd)"
  if ! pid="$(running_pid "$data_dir")"; then
    rm -f "$data_dir/kafka.pid"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$data_dir/kafka.pid"
  log "stopped (pid $pid)"
}

main() {
  (($# >= 1)) || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    fetch) (($# == 0)) || die "usage: kafka.sh fetch"; cmd_fetch ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"

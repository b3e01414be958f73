#!/usr/bin/env bash
# Apache Kafka 4.4 from Maven Central (pom.xml beside this script), on loopback in KRaft
# mode: the reference Brook is compared with, and the peer in benchmarks.
#
#   kafka.sh classpath                      resolve the jars once; print the classpath
#   kafka.sh run CLASS [ARGS...]            run a Kafka class (a tool, a client) or one
#                                           of src/main/java (WordCount) on it
#   kafka.sh junit BOOTSTRAP [OPTIONS...]    the Java client tests (src/test/java) against
#                                           the cluster at BOOTSTRAP; OPTIONS go to JUnit's
#                                           console launcher (e.g. --select-class NAME)
#   kafka.sh combined DIR [PORT [CPORT]]    one node, broker and controller, in the
#                                           foreground (defaults 9092 and 9093, as brook dev)
#   kafka.sh cluster DIR [PORT [CPORT]]     one controller (CPORT) and three brokers on
#                                           PORT, PORT+1, PORT+2 (tools/scripts/
#                                           local_cluster.sh's ports: 29101 29093);
#                                           stops them all on SIGTERM or Ctrl-C
#   kafka.sh node DIR ROLES ID LISTENER VOTERS CLUSTER_ID [SETTING...]
#                                           one node of a cluster laid out by the
#                                           caller (the fault suite's namespaces), in
#                                           the foreground as this process (exec), so
#                                           that signals reach the JVM itself
#
# Settings follow brook dev: one partition and one replica per new topic unless asked,
# auto-creation on, Kafka's defaults elsewhere. KAFKA_HEAP (default 1G) sizes each
# JVM; KAFKA_HOST (default 127.0.0.1) is the loopback address every node listens on.
# Logs go to DIR/<node>/server.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cp_file="$here/target/classpath.txt"
host="${KAFKA_HOST:-127.0.0.1}"

# Maven, quiet unless it fails (even -q -B prints colour resets).
mvn_quiet() {
  local out
  if ! out=$(mvn -q -B -Dstyle.color=never -f "$here/pom.xml" "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

classpath() {
  if [ ! -s "$cp_file" ] || [ "$here/pom.xml" -nt "$cp_file" ]; then
    # test-compile here too, online, so that the plugins are fetched once and later
    # compiles can run offline.
    mvn_quiet test-compile dependency:build-classpath -Dmdep.outputFile="$cp_file"
  fi
  cat "$cp_file"
}

java_run() {
  local log4j="$1"
  shift
  exec java -Xms"${KAFKA_HEAP:-1G}" -Xmx"${KAFKA_HEAP:-1G}" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$log4j" -cp "${KAFKA_EXTRA_CP:+$KAFKA_EXTRA_CP:}$(classpath)" "$@"
}

# write_config FILE ROLES NODE_ID LISTENERS ADVERTISED VOTERS LOGDIR [EXTRA...]
write_config() {
  local file="$1" roles="$2" id="$3" listeners="$4" advertised="$5" voters="$6" logdir="$7"
  shift 7
  {
    echo "process.roles=$roles"
    echo "node.id=$id"
    echo "controller.quorum.voters=$voters"
    echo "listeners=$listeners"
    [ -n "$advertised" ] && echo "advertised.listeners=$advertised"
    echo "controller.listener.names=CONTROLLER"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "log.dirs=$logdir"
    echo "num.partitions=1"
    echo "auto.create.topics.enable=true"
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

format() {
  local config="$1" cluster_id="$2"
  java -Xmx256M -Dlog4j2.configurationFile="$here/log4j2-tools.properties" -cp "$(classpath)" \
    kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$config" >/dev/null
}

# server_command CONFIG: the JVM command line of the Kafka server configured by CONFIG,
# logging to the config's directory, into the array `server`.
server_command() {
  server=(java -Xms"${KAFKA_HEAP:-1G}" -Xmx"${KAFKA_HEAP:-1G}" -XX:+UseG1GC
    -Djava.awt.headless=true -Dkafka.logs.dir="$(dirname "$1")"
    -Dlog4j2.configurationFile="$here/log4j2-server.properties"
    -cp "$(classpath)" kafka.Kafka "$1")
}

node() { # node CONFIG: run one Kafka server in the background (pid in $last)
  server_command "$1"
  "${server[@]}" >"$(dirname "$1")/stdout.log" 2>&1 &
  last=$!
}

# prepare_node DIR ROLES ID LISTENER VOTERS CLUSTER_ID [EXTRA...]: DIR/server.properties
# for a pure controller or a pure broker listening on LISTENER (a broker advertises it),
# its storage formatted on the first start.
prepare_node() {
  local dir="$1" roles="$2" id="$3" listener="$4" voters="$5" cluster="$6"
  shift 6
  mkdir -p "$dir"
  local advertised="$listener"
  [ "$roles" = controller ] && advertised=""
  write_config "$dir/server.properties" "$roles" "$id" "$listener" "$advertised" "$voters" \
    "$dir/data" "$@"
  if [ "$roles" = controller ]; then
    # A pure controller has no PLAINTEXT listener; the topic defaults are its own.
    sed -i '/^inter.broker.listener.name=/d' "$dir/server.properties"
    echo "default.replication.factor=1" >>"$dir/server.properties"
  else
    # Kafka 4.4 reads these on controllers only (and warns on brokers).
    sed -i '/^num.partitions=/d;/^auto.create/d' "$dir/server.properties"
  fi
  [ -d "$dir/data" ] || format "$dir/server.properties" "$cluster"
}

cluster_id() {
  java -cp "$(classpath)" -Dlog4j2.configurationFile="$here/log4j2-tools.properties" \
    kafka.tools.StorageTool random-uuid
}

# Compiles the tests when a source is newer than its classes; tests that run in
# parallel share one compile.
compile_tests() {
  classpath >/dev/null
  (
    flock 9
    stamp="$here/target/test-classes/.compiled"
    if [ ! -f "$stamp" ] || [ -n "$(find "$here/src" "$here/pom.xml" -newer "$stamp" -print -quit)" ]; then
      mvn_quiet -o test-compile
      touch "$stamp"
    fi
  ) 9>"$here/target/.compile.lock"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  classpath) classpath ;;
  run)
    compile_tests
    KAFKA_EXTRA_CP="$here/target/classes" java_run "$here/log4j2-tools.properties" "$@"
    ;;
  junit)
    bootstrap="$1"
    shift
    [ $# -gt 0 ] || set -- --scan-classpath
    compile_tests
    cp="$here/target/test-classes:$here/target/classes:$(classpath)"
    KAFKA_BOOTSTRAP="$bootstrap" exec java -Xmx512M -Dlog4j2.configurationFile="$here/log4j2-tools.properties" \
      -cp "$cp" org.junit.platform.console.ConsoleLauncher execute --disable-banner \
      --details=tree --disable-ansi-colors --fail-if-no-tests --class-path "$here/target/test-classes" "$@"
    ;;
  combined)
    dir="$1" port="${2:-9092}" cport="${3:-9093}"
    mkdir -p "$dir/node"
    config="$dir/node/server.properties"
    write_config "$config" broker,controller 1 \
      "PLAINTEXT://$host:$port,CONTROLLER://$host:$cport" "PLAINTEXT://$host:$port" \
      "1@$host:$cport" "$dir/node/data" \
      offsets.topic.replication.factor=1 transaction.state.log.replication.factor=1 \
      transaction.state.log.min.isr=1 share.coordinator.state.topic.replication.factor=1 \
      share.coordinator.state.topic.min.isr=1 default.replication.factor=1
    [ -d "$dir/node/data" ] || format "$config" "$(cluster_id)"
    node "$config"
    pid=$last
    trap 'kill -TERM $pid 2>/dev/null; wait $pid || true; exit 0' INT TERM
    wait "$pid"
    ;;
  cluster)
    dir="$1" port="${2:-9092}" cport="${3:-9093}"
    id="$(cluster_id)"
    voters="1@$host:$cport"
    prepare_node "$dir/controller" controller 1 "CONTROLLER://$host:$cport" "$voters" "$id"
    node "$dir/controller/server.properties"
    controller=$last
    brokers=()
    for i in 1 2 3; do
      prepare_node "$dir/broker-$i" broker $((i + 1)) "PLAINTEXT://$host:$((port + i - 1))" \
        "$voters" "$id"
      node "$dir/broker-$i/server.properties"
      brokers+=("$last")
    done
    # Brokers first: a broker's controlled shutdown needs the controller.
    # (A stopped server's status is not ours: `|| true` keeps `set -e` from ending the
    # trap before the controller is stopped.)
    trap 'kill -TERM "${brokers[@]}" 2>/dev/null; wait "${brokers[@]}" || true; kill -TERM $controller; wait || true; exit 0' INT TERM
    wait
    ;;
  node)
    dir="$1" roles="$2" id="$3" listener="$4" voters="$5" cluster="$6"
    shift 6
    prepare_node "$dir" "$roles" "$id" "$listener" "$voters" "$cluster" "$@"
    server_command "$dir/server.properties"
    exec "${server[@]}"
    ;;
  *)
    sed -n '2,21p' "$0" >&2
    exit 2
    ;;
esac

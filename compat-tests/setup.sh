#!/usr/bin/env bash
# Installs the real Kafka clients and tools the compat suite drives, and compiles the Java test
# programs. Everything lands under ~/.cache/vltava (Maven's own cache in ~/.m2), nothing in the
# repository.
#
#   setup.sh                 everything (kcat, python, java, node, go, kafka, streams, clients, oracle)
#   setup.sh python          the virtual environment ~/.cache/vltava/venv with the Python clients
#   setup.sh java            kafka-clients 4.4.0 from Maven Central + the compiled test programs
#   setup.sh node            kafkajs and playwright-core (npm ci into ~/.cache/vltava/node), and
#                            Debian's chromium for the console's browser test (apt, if missing)
#   setup.sh kafka           Apache Kafka 4.4.0 (broker and every kafka-*.sh tool) from Maven
#                            Central into ~/.cache/vltava/kafka-4.4.0/libs
#   setup.sh streams         the Kafka Streams programs (java/streams) against those jars
#   setup.sh clients         older Java clients (2.8.2, 3.0.2, 3.9.2) + OldClientCheck per version
#   setup.sh oracle          the differential oracle's client (oracle/: kafka-clients 4.4.0's
#                            message classes and JSON converters) into oracle/build
#   setup.sh go              the Go clients' driver binary (franz-go, sarama, kafka-go)
#   setup.sh kcat python     any subset
#
# Idempotent: every step checks first and does nothing when already done, so running it before
# every test run costs well under a second once the machine is set up. Runs unattended (CI, no
# stdin). Steps that need apt are the only ones that need root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"          # the interpreter the virtual environment is made from
CACHE="${VLTAVA_CACHE:-$HOME/.cache/vltava}"
VENV="$CACHE/venv"
NODE_DIR="$HERE/node"                # package.json, package-lock.json, kjs.js
NODE_PREFIX="$CACHE/node"            # node_modules lands here (tests set NODE_PATH to it)
NPM_CACHE="$CACHE/npm"
JAVA_SRC="$HERE/java"
JAVA_BUILD="$HERE/java/build"        # compiled programs (git-ignored)
GO_SRC="$HERE/go"
# The Go driver binary; test_go.py runs it from here (keep the two in step).
GO_BIN_DIR="$CACHE/go"
KAFKA_POM="$HERE/kafka/pom.xml"
CLIENTS_POM="$HERE/kafka/clients/pom.xml"
KAFKA_VERSION=4.4.0
# Client jars for the compat programs in java/: kafka-clients + compression libs + Log4j 2.
JAVA_LIBS="$CACHE/kafka-clients-$KAFKA_VERSION/libs"
# The whole of Kafka (broker, storage tool, every kafka-*.sh main class) as one directory of jars.
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
# Older Java clients driven by test_old_clients.py: the oldest still in use widely (2.8), the
# newest 3.0.x Maven Central serves, the last 3.x.
OLD_CLIENT_VERSIONS=(2.8.2 3.0.2 3.9.2 "$KAFKA_VERSION")
# Pinned, so a new plugin release never changes what lands in the cache.
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { echo "[setup] $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi

# apt-get update is slow and touches the network; do it at most once per run and only when a
# package is actually missing.
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

setup_kcat() {
    command -v kcat >/dev/null 2>&1 || apt_install kcat
}

ensure_venv() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1 && return 0
    command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3
    log "creating the virtual environment $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian's own python3 makes virtual environments only with python3-venv installed.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
}

setup_python() {
    ensure_venv
    local py="$VENV/bin/python"
    # import name -> pip name. lz4/zstandard/python-snappy give kafka-python its codecs
    # (confluent-kafka has them built in); cramjam gives aiokafka snappy, lz4 and zstd.
    local missing=()
    local pair
    for pair in confluent_kafka:confluent-kafka kafka:kafka-python pytest:pytest \
                lz4:lz4 zstandard:zstandard snappy:python-snappy \
                aiokafka:aiokafka cramjam:cramjam yaml:pyyaml \
                prometheus_client:prometheus-client; do
        "$py" -I -c "import ${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    # The kafka-python tests use the 3.x admin API (dict-based create_topics etc.).
    if "$py" -I -c 'import sys, kafka; sys.exit(int(kafka.__version__.split(".")[0]) >= 3)' \
        >/dev/null 2>&1; then
        missing+=("kafka-python>=3")
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        log "pip install ${missing[*]} (into $VENV)"
        "$py" -m pip install -q --disable-pip-version-check "${missing[@]}"
    fi
}

ensure_java() {
    if ! command -v javac >/dev/null 2>&1; then apt_install openjdk-17-jdk-headless; fi
}

ensure_maven() {
    ensure_java
    command -v mvn >/dev/null 2>&1 || apt_install maven
}

# maven_copy POM DEST [-Dprop=value ...]: the runtime dependencies of POM as a flat directory of
# jars. Maven keeps its downloads in ~/.m2; DEST gets a marker written last, so an interrupted
# copy is redone rather than trusted.
maven_copy() {
    local pom="$1" dest="$2"
    shift 2
    [ -f "$dest/.complete" ] && return 0
    ensure_maven
    log "fetching $(basename "$(dirname "$dest")") from Maven Central into $dest"
    rm -rf "$dest.tmp"
    mkdir -p "$(dirname "$dest")"
    # -B: no progress bars; -q: errors only (Maven 3.8 still writes colour resets: stripped). Run
    # from /tmp so nothing (target/) is written next to the pom.
    (cd /tmp && mvn -B -q -Dstyle.color=never -f "$pom" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime \
        -DoutputDirectory="$dest.tmp" "$@") </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
    ls "$dest.tmp"/*.jar >/dev/null
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    date -u +%FT%TZ > "$dest/.complete"
}

setup_java() {
    ensure_java
    maven_copy "$CLIENTS_POM" "$JAVA_LIBS" -Dclients.version="$KAFKA_VERSION"
    # Recompile only when a source, resource or jar changed: the stamp is a hash over all of them.
    local stamp
    stamp="$(cd "$JAVA_SRC" && { sha256sum ./*.java ./*.properties; ls -l "$JAVA_LIBS"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$JAVA_BUILD/stamp" ] && [ "$(cat "$JAVA_BUILD/stamp")" = "$stamp" ] \
        && [ -f "$JAVA_BUILD/classpath" ]; then
        return 0
    fi
    log "compiling Java test programs into $JAVA_BUILD/classes"
    rm -rf "$JAVA_BUILD"
    mkdir -p "$JAVA_BUILD/classes"
    javac --release 17 -Xlint:all,-options -Werror -encoding UTF-8 \
        -cp "$JAVA_LIBS/*" -d "$JAVA_BUILD/classes" "$JAVA_SRC"/*.java
    # log4j2 picks its configuration up from the classpath root.
    cp "$JAVA_SRC"/*.properties "$JAVA_BUILD/classes/"
    echo "$JAVA_BUILD/classes:$JAVA_LIBS/*" > "$JAVA_BUILD/classpath"
    echo "$stamp" > "$JAVA_BUILD/stamp"
}

setup_kafka() {
    ensure_java
    maven_copy "$KAFKA_POM" "$KAFKA_LIBS"
}

# Kafka Streams programs (java/streams), compiled against the Kafka 4.4.0 jars of setup_kafka.
setup_streams() {
    setup_kafka
    local build="$JAVA_SRC/streams/build" stamp
    stamp="$(cd "$JAVA_SRC/streams" && { sha256sum ./*.java; ls -l "$KAFKA_LIBS"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$build/stamp" ] && [ "$(cat "$build/stamp")" = "$stamp" ]; then
        return 0
    fi
    log "compiling java/streams against Kafka $KAFKA_VERSION"
    rm -rf "$build"
    mkdir -p "$build/classes"
    javac --release 17 -encoding UTF-8 -cp "$KAFKA_LIBS/*" -d "$build/classes" "$JAVA_SRC"/streams/*.java
    echo "$build/classes:$KAFKA_LIBS/*" > "$build/classpath"
    echo "$stamp" > "$build/stamp"
}

# Each older client gets its own jar directory and its own compiled copy of java/old/*.java
# (compiled against that client, so a method it lacks fails the build, not the test).
setup_clients() {
    ensure_java
    local v dir stamp
    for v in "${OLD_CLIENT_VERSIONS[@]}"; do
        dir="$CACHE/kafka-clients-$v"
        maven_copy "$CLIENTS_POM" "$dir/libs" -Dclients.version="$v"
        stamp="$(cd "$JAVA_SRC/old" && { sha256sum ./*.java ./*.properties; ls -l "$dir/libs"; } | sha256sum | cut -d' ' -f1)"
        if [ -f "$dir/classes.stamp" ] && [ "$(cat "$dir/classes.stamp")" = "$stamp" ]; then
            continue
        fi
        log "compiling java/old against kafka-clients $v"
        rm -rf "$dir/classes" "$dir/classes.stamp"
        mkdir -p "$dir/classes"
        javac --release 17 -Xlint:all,-options,-deprecation -Werror -encoding UTF-8 \
            -cp "$dir/libs/*" -d "$dir/classes" "$JAVA_SRC"/old/*.java
        cp "$JAVA_SRC"/old/*.properties "$dir/classes/"
        echo "$stamp" > "$dir/classes.stamp"
    done
}

setup_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    # The console's browser test (test_console.py) drives Debian's chromium with playwright-core;
    # playwright's own browser download cannot be used here.
    [ -x /usr/bin/chromium ] || apt_install chromium fonts-liberation
    # npm ci (in a copy of package.json + lock under ~/.cache, so node_modules never lands in the
    # repository) only when the lock file changed since the last install: its hash is kept inside
    # node_modules, so deleting node_modules forces a fresh install. The npm cache lives under
    # ~/.cache too, so a reinstall does not download again.
    local stamp
    stamp="$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [ -f "$NODE_PREFIX/node_modules/.vltava-stamp" ] \
        && [ "$(cat "$NODE_PREFIX/node_modules/.vltava-stamp")" = "$stamp" ]; then
        return 0
    fi
    log "npm ci in $NODE_PREFIX (kafkajs, playwright-core)"
    mkdir -p "$NODE_PREFIX"
    cp "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" "$NODE_PREFIX/"
    (cd "$NODE_PREFIX" && npm ci --cache "$NPM_CACHE" --prefer-offline --no-audit --no-fund \
        --loglevel=error) </dev/null
    echo "$stamp" > "$NODE_PREFIX/node_modules/.vltava-stamp"
}

# The differential oracle (oracle/, test_oracle.py): Kafka's own generated message classes and
# JSON converters (kafka-clients, plus the Jackson they need), and the Java program that speaks
# through them, recompiled when its source or the jars change.
ORACLE_DIR="$HERE/oracle"
ORACLE_LIBS="$CACHE/oracle-$KAFKA_VERSION/libs"
ORACLE_BUILD="$ORACLE_DIR/build"         # compiled program + classpath file (git-ignored)

setup_oracle() {
    ensure_java
    maven_copy "$ORACLE_DIR/pom.xml" "$ORACLE_LIBS"
    local stamp
    stamp="$(cd "$ORACLE_DIR/src" && { sha256sum ./*.java; ls -l "$ORACLE_LIBS"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$ORACLE_BUILD/stamp" ] && [ "$(cat "$ORACLE_BUILD/stamp")" = "$stamp" ] \
        && [ -f "$ORACLE_BUILD/classpath" ]; then
        return 0
    fi
    log "compiling the oracle into $ORACLE_BUILD/classes"
    rm -rf "$ORACLE_BUILD"
    mkdir -p "$ORACLE_BUILD/classes"
    javac --release 17 -Xlint:all,-options -Werror -encoding UTF-8 \
        -cp "$ORACLE_LIBS/*" -d "$ORACLE_BUILD/classes" "$ORACLE_DIR/src"/*.java
    echo "$ORACLE_BUILD/classes:$ORACLE_LIBS/*" > "$ORACLE_BUILD/classpath"
    echo "$stamp" > "$ORACLE_BUILD/stamp"
}

find_go() {
    # Go may be installed without being on PATH (the official tarball's /usr/local/go).
    if command -v go >/dev/null 2>&1; then command -v go; return 0; fi
    if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return 0; fi
    return 1
}

setup_go() {
    local go_cmd
    if ! go_cmd="$(find_go)"; then
        apt_install golang-go
        go_cmd="$(find_go)"
    fi
    # Rebuild only when a source, go.mod/go.sum or the toolchain changed: the stamp is a hash
    # over all of them. Modules come from the Go module proxy into the default module cache
    # (`go env GOMODCACHE`, ~/go/pkg/mod) and compiled packages into the default build cache
    # (~/.cache/go-build), so a rebuild after a source edit takes seconds. -mod=readonly: go.sum
    # in the repository is the whole truth; the build never edits it.
    local stamp
    stamp="$(cd "$GO_SRC" && { sha256sum go.mod go.sum ./*.go; "$go_cmd" version; } | sha256sum | cut -d' ' -f1)"
    if [ -x "$GO_BIN_DIR/gocompat" ] && [ -f "$GO_BIN_DIR/stamp" ] \
        && [ "$(cat "$GO_BIN_DIR/stamp")" = "$stamp" ]; then
        return 0
    fi
    log "building the Go client driver into $GO_BIN_DIR/gocompat (first build downloads modules and takes minutes)"
    mkdir -p "$GO_BIN_DIR"
    (cd "$GO_SRC" && GOFLAGS="-mod=readonly -buildvcs=false" "$go_cmd" build -trimpath \
        -o "$GO_BIN_DIR/gocompat.tmp" .)
    mv "$GO_BIN_DIR/gocompat.tmp" "$GO_BIN_DIR/gocompat"
    echo "$stamp" > "$GO_BIN_DIR/stamp"
}

components=("$@")
[ "${#components[@]}" -eq 0 ] && components=(kcat python java node go kafka streams clients oracle)
for c in "${components[@]}"; do
    case "$c" in
        kcat) setup_kcat ;;
        python) setup_python ;;
        java) setup_java ;;
        node) setup_node ;;
        go) setup_go ;;
        kafka) setup_kafka ;;
        streams) setup_streams ;;
        clients) setup_clients ;;
        oracle) setup_oracle ;;
        *) echo "setup.sh: unknown component '$c' (kcat, python, java, node, go, kafka, streams, clients, oracle)" >&2
           exit 2 ;;
    esac
done

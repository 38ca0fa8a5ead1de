# Builds the single vltava binary and runs it on a slim base.
FROM rust:1.95-slim AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --bin vltava

FROM debian:bookworm-slim
COPY --from=build /src/target/release/vltava /usr/local/bin/vltava
EXPOSE 9092
VOLUME /var/lib/vltava
ENTRYPOINT ["vltava", "serve", "--log-dirs", "/var/lib/vltava"]
CMD ["--listeners", "PLAINTEXT://0.0.0.0:9092", "--advertised-listeners", "PLAINTEXT://localhost:9092"]

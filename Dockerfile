# Atende: one self-contained binary (templates, lexicons and migrations are compiled in).
#
#   docker build -t atende:latest .
#   docker run --rm -p 8080:8080 -e ATENDE_DATABASE_URL=postgres://... atende:latest
#
# The production stack (PostgreSQL, Redis, Prometheus, Alertmanager, Grafana) is in
# deploy/docker-compose.prod.yml; see deploy/README.md.

# ---------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder

# The slim image has gcc and libc6-dev; aws-lc-sys (rustls' crypto provider) and the bundled
# SQLite compile C code. cmake is only a fallback for aws-lc-sys' build, kept for safety.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# 1. Dependencies only: the manifest, the lock file and empty targets. This layer is reused
#    until Cargo.toml or Cargo.lock change, so a source edit does not rebuild the whole tree.
#    bench/main.rs is declared as [[bench]] in Cargo.toml: cargo refuses a manifest whose
#    declared target is missing, so a stub stands in (benches are not built here).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src bench \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > bench/main.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/atende-* target/release/deps/atende-* \
              target/release/deps/libatende-* target/release/atende

# 2. The crate itself. askama.toml points the template derive at assets/templates; assets/ and
#    migrations/ are embedded at compile time (include_str!, sqlx::migrate!).
COPY askama.toml ./
COPY assets ./assets
COPY migrations ./migrations
COPY src ./src
# COPY keeps the files' modification times: touch them so cargo never mistakes the stub
# build above for a fresh build of the real crate.
RUN find src -name '*.rs' -exec touch {} + \
    && cargo build --release --locked \
    && install -m 0755 target/release/atende /usr/local/bin/atende

# ---------------------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to LLM providers, helpdesks and PostgreSQL; curl: the HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 atende \
    && useradd --system --uid 10001 --gid atende --home-dir /var/lib/atende \
               --no-create-home --shell /usr/sbin/nologin atende \
    && mkdir -p /var/lib/atende /var/log/atende \
    && chown atende:atende /var/lib/atende /var/log/atende \
    && chmod 0750 /var/lib/atende /var/log/atende

COPY --from=builder /usr/local/bin/atende /usr/local/bin/atende

LABEL org.opencontainers.image.title="atende" \
      org.opencontainers.image.description="AI attendant for WhatsApp helpdesks" \
      org.opencontainers.image.licenses="MIT"

USER atende:atende
WORKDIR /var/lib/atende

# The binary's own default is 127.0.0.1:8080, unreachable from outside a container.
ENV ATENDE_BIND=0.0.0.0:8080
EXPOSE 8080

# Liveness only (the process answers). Compose overrides this with /ready, which also checks
# the store. If you change ATENDE_BIND's port, override the healthcheck too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1

# SIGTERM (docker stop) shuts Atende down gracefully; give it ~30 s (stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["atende"]
CMD ["serve"]

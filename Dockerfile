# syntax=docker/dockerfile:1
# The jimini server image: a static musl build on an empty base, running as a non-root user.
#
#   docker build --build-arg VERSION=0.2.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) -t jimini .
#
# `cargo xtask docker` builds the same runtime stage from an existing, verified dist instead,
# so that the image's binaries are byte-identical to the released archive's.

FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder
WORKDIR /src
RUN rustup target add x86_64-unknown-linux-musl

# Dependencies in their own layer: it is rebuilt only when the manifests or the lock change.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/config.toml .cargo/config.toml
COPY app/Cargo.toml app/Cargo.toml
COPY xtask/Cargo.toml xtask/Cargo.toml
RUN mkdir -p app/src/bin xtask/src xtask/benches \
    && touch app/src/lib.rs xtask/src/lib.rs xtask/benches/dist.rs \
    && for f in app/build.rs app/src/bin/jimini.rs app/src/bin/jimini-admin.rs \
        app/src/bin/jimini-server.rs xtask/src/main.rs; do printf 'fn main() {}\n' > "$f"; done \
    && cargo fetch --locked

COPY . .
ARG SOURCE_DATE_EPOCH=0
ARG REVISION=unknown
ENV SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} JIMINI_BUILD_COMMIT=${REVISION}
RUN cargo xtask dist --target x86_64-unknown-linux-musl \
    && cargo xtask docker --image-root /image-root

FROM scratch AS artifacts
COPY --from=builder /image-root/ /

FROM scratch AS runtime
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="jimini" \
      org.opencontainers.image.description="Minimal AI-policy gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/jimini-dev/jimini" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=artifacts /usr/local/bin/ /usr/local/bin/
COPY --from=artifacts /etc/jimini/ /etc/jimini/
COPY --from=artifacts --chown=10001:10001 /var/lib/jimini/ /var/lib/jimini/
USER 10001:10001
EXPOSE 9000
# No HEALTHCHECK: a scratch image has no HTTP client. Orchestrators probe GET /health for
# liveness and GET /ready for readiness (503 while the audit log cannot be written).
ENTRYPOINT ["/usr/local/bin/jimini-server"]
CMD ["--bind", "0.0.0.0:9000", "--rules", "/etc/jimini/rules.toml", "--audit-log", "/var/lib/jimini/audit.jsonl"]

# Switchyard's headless gateway with its browser dashboard, as a container.
#
#   docker build -t switchyard .
#   docker run -d -p 20128:20128 -v switchyard-data:/data switchyard
#   docker logs <container>   # the one-time dashboard sign-in link
#
# The image binds every interface inside the container: /v1 then always
# needs an API key (requests do not come from loopback) and the dashboard
# its password or the printed link. Set SWITCHYARD_DASHBOARD_PASSWORD_FILE
# (a Docker secret) to start with a password.

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# Build: the dashboard (wasm32) first, since the binary embeds it.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo xtask ui \
    && cargo build --release --locked -p switchyard-cli \
    && install -m 0755 target/release/switchyard /usr/local/bin/switchyard

# What every image shares: OpenSSL and CA certificates for calls to
# providers, an unprivileged user, the data volume.
FROM ${RUNTIME_IMAGE} AS runtime-base
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin switchyard \
    && mkdir -p /data \
    && chown switchyard:switchyard /data
ENV SWITCHYARD_DATA_DIR=/data \
    SWITCHYARD_HOST=0.0.0.0 \
    SWITCHYARD_PORT=20128 \
    SWITCHYARD_SECRET_STORE=file
VOLUME ["/data"]
EXPOSE 20128
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["switchyard", "health"]
USER switchyard
ENTRYPOINT ["switchyard"]
CMD ["serve"]

# An image of a binary built outside the container (what `cargo xtask
# test` checks): docker build --target prebuilt --build-arg BINARY=...
FROM runtime-base AS prebuilt
ARG BINARY=target/release/switchyard
COPY --chmod=0755 ${BINARY} /usr/local/bin/switchyard

# The default image.
FROM runtime-base AS runtime
COPY --from=build /usr/local/bin/switchyard /usr/local/bin/switchyard

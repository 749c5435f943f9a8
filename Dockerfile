# syntax=docker/dockerfile:1.7
# The boxoffice binary in a small image that runs as a non-root user with no shell.
#
#   docker build -t boxoffice .
#   docker run -p 8080:8080 -v boxoffice-data:/data boxoffice            # everything, embedded
#   docker run ... boxoffice serve --service gateway                     # one service (see docker-compose.yml)
#
# Stages: `chef` has the toolchain and cargo-chef; `plan` lists the dependencies; `build` compiles
# them in a layer of their own (cached while only boxoffice's sources change), then boxoffice.

ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS chef
# cmake and a C++ compiler build the librdkafka that rdkafka bundles.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake g++ \
    && rm -rf /var/lib/apt/lists/* \
    && cargo install cargo-chef --locked --version 0.1.71
WORKDIR /src

FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=plan /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin boxoffice
COPY . .
RUN cargo build --release --locked --bin boxoffice \
    && mkdir -p /out/data \
    && cp target/release/boxoffice /out/boxoffice

# glibc and libgcc, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/boxoffice /usr/local/bin/boxoffice
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV BOXOFFICE_HTTP_ADDR=0.0.0.0:8080 \
    BOXOFFICE_ADMIN_ADDR=0.0.0.0:9090 \
    BOXOFFICE_DATA_DIR=/data \
    BOXOFFICE_LOG_FORMAT=json
VOLUME ["/data"]
# The public API and web app; /healthz, /readyz and /metrics; the services' gRPC ports.
EXPOSE 8080 9090 50051 50052 50053
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/boxoffice", "health"]
ENTRYPOINT ["/usr/local/bin/boxoffice"]
CMD ["serve"]

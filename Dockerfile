# thumbkit's container image: built with the Rust toolchain and the codecs' build
# dependencies, run on Debian slim as a non-root user with only the binary and the presets
# (the CMYK profile and the demo page are compiled in). Configured by environment only.
#
#   docker build -t thumbkit .
#   docker run -p 8080:8080 -e THUMBKIT_STORAGE=s3://bucket -e THUMBKIT_API_TOKEN=... thumbkit
#
# Both stages are Debian 12 (bookworm) with libheif 1.19 from bookworm-backports, as
# `make deps` installs it: the runtime's libraries are the ones the build linked against
# (tests/it/deploy/files.rs checks the list against `ldd` of the binary).

FROM rust:1.95-bookworm AS build
RUN echo 'deb http://deb.debian.org/debian bookworm-backports main' \
      > /etc/apt/sources.list.d/backports.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake nasm pkg-config \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -t bookworm-backports libheif-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY benches/render.rs benches/render.rs
COPY assets assets
COPY icc icc
COPY src src
RUN cargo build --release --locked --bin thumbkit \
 && strip target/release/thumbkit

FROM debian:bookworm-slim
# libheif and its decoder/encoder plugins (dlopen'ed, so not in ldd's list); never x265.
# curl only for the HEALTHCHECK.
RUN echo 'deb http://deb.debian.org/debian bookworm-backports main' \
      > /etc/apt/sources.list.d/backports.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -t bookworm-backports libheif1 libheif-plugin-libde265 libheif-plugin-dav1d libheif-plugin-aomenc \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/thumbkit --create-home thumbkit
COPY --from=build /src/target/release/thumbkit /usr/local/bin/thumbkit
COPY presets /etc/thumbkit/presets
ENV THUMBKIT_LISTEN=0.0.0.0:8080 \
    THUMBKIT_PRESETS=/etc/thumbkit/presets \
    THUMBKIT_STORAGE=fs:/var/lib/thumbkit/data
USER thumbkit
WORKDIR /var/lib/thumbkit
EXPOSE 8080
# SIGTERM drains: in-flight requests finish, pending variant writes get THUMBKIT_SHUTDOWN_TIMEOUT.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/thumbkit"]
CMD ["serve"]

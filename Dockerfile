# pin's own image: pin built from this checkout's source with the locked dependency
# tree, as a static musl binary on a distroless base, running as a non-root user.
#
#   docker build -t pin .
#   docker run --rm -v "$PWD:/work" -w /work pin --check
#
# Both base images are pinned by digest (and kept fresh by pin itself):
# rust:1.88-bookworm is the minimum supported Rust version (Cargo.toml's
# rust-version); gcr.io/distroless/static-debian12:nonroot has no shell, no package
# manager and runs as uid 65532. The release workflow builds it for linux/amd64 and
# linux/arm64.

FROM rust:1.88-bookworm@sha256:af306cfa71d987911a781c37b59d7d67d934f49684058f96cf72079c3626bfe0 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The build platform's own musl target: the image is built natively per platform.
RUN target="$(uname -m)-unknown-linux-musl" \
    && rustup target add "$target" \
    && cargo build --locked --release --target "$target" --bin pin \
    && cp "target/$target/release/pin" /pin

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /pin /usr/local/bin/pin
USER nonroot:nonroot
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pin"]

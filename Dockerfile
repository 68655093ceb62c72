# syntax=docker/dockerfile:1
# prtracker's image: one static binary (musl; rustls with ring, no OpenSSL) on distroless/static, run
# as the non-root user 65532, with static kustomize and helm beside it to render targets. Build from
# the repository root:
#   docker build -t ghcr.io/prtracker/prtracker:0.1.0 .
# The image runs `prtracker run`; see deploy/ and deploy/helm/prtracker for how it is deployed.

ARG RUST_VERSION=1.95
# The modules of helm and kustomize below ask for Go 1.26; golang images do not fetch a newer one
# (GOTOOLCHAIN=local), so raise this with them.
ARG GO_VERSION=1.26
# The versions scripts/build-control-plane.sh pins, so the image renders as the tests do (a packaging
# test holds them equal).
ARG HELM_VERSION=v3.22.0
ARG KUSTOMIZE_VERSION=v5.8.2

# kustomize and helm, which the operator runs on targets that are kustomizations or charts (its
# --kustomize and --helm find them on PATH): built from their Go modules as the script builds them.
# CGO_ENABLED=0, since the final stage has no libc. Go cross-compiles, so this stage runs on the
# build machine's platform and builds for the image's, with no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS tools
ARG TARGETOS
ARG TARGETARCH
ARG HELM_VERSION
ARG KUSTOMIZE_VERSION
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
# Each in a module of its own, so neither moves the other's dependencies; stamped with its release,
# as its own build does, so `helm version` and `kustomize version` tell it.
RUN set -eu; \
    mkdir -p /tools/helm /out && cd /tools/helm; \
    go mod init prtracker.image/helm; \
    go get "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"; \
    GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath \
      -ldflags="-s -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
      -o /out/helm helm.sh/helm/v3/cmd/helm
RUN set -eu; \
    mkdir /tools/kustomize && cd /tools/kustomize; \
    go mod init prtracker.image/kustomize; \
    go get "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"; \
    GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath \
      -ldflags="-s -X sigs.k8s.io/kustomize/api/provenance.version=${KUSTOMIZE_VERSION} -X sigs.k8s.io/kustomize/api/provenance.buildDate=1970-01-01T00:00:00Z" \
      -o /out/kustomize sigs.k8s.io/kustomize/kustomize/v5

FROM rust:${RUST_VERSION}-bookworm AS build
# ring and psm compile a little C: musl-gcc links it against musl. The target is the build stage's
# own architecture, so `docker build --platform linux/arm64` (or an arm64 machine) makes an arm64
# image and linux/amd64 an amd64 one.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && echo "$(uname -m)-unknown-linux-musl" >/rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src

# Dependencies first, in a layer of their own: the manifests, and empty targets standing in for the
# crates' sources, so that a change of source rebuilds only the workspace's own crates.
COPY Cargo.toml Cargo.lock ./
COPY crates/api/Cargo.toml crates/api/
COPY crates/domain/Cargo.toml crates/domain/
COPY crates/drift/Cargo.toml crates/drift/
COPY crates/github/Cargo.toml crates/github/
COPY crates/github-sim/Cargo.toml crates/github-sim/
COPY crates/operator/Cargo.toml crates/operator/
COPY crates/prtracker/Cargo.toml crates/prtracker/
COPY crates/sync/Cargo.toml crates/sync/
COPY crates/testenv/Cargo.toml crates/testenv/
RUN set -eu; \
    for manifest in crates/*/Cargo.toml; do \
      crate=${manifest%/Cargo.toml}; \
      mkdir -p "$crate/src" "$crate/benches"; \
      : >"$crate/src/lib.rs"; \
      for bench in $(awk '/^\[\[bench\]\]/ { b = 1; next } b && /^name *=/ { gsub(/[" ]/, ""); sub(/^name=/, ""); print; b = 0 }' "$manifest"); do \
        echo 'fn main() {}' >"$crate/benches/$bench.rs"; \
      done; \
    done; \
    echo 'fn main() {}' >crates/prtracker/src/main.rs; \
    cargo build --release --locked --target "$(cat /rust-target)" -p prtracker; \
    rm -rf crates/*/src crates/*/benches

# The workspace's own crates. Sources keep the build context's times, which may be older than the
# stand-ins built above: touch them so that cargo rebuilds every crate of the workspace.
COPY crates crates
RUN find crates -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --target "$(cat /rust-target)" -p prtracker --bin prtracker \
 && cp "target/$(cat /rust-target)/release/prtracker" /prtracker

# distroless/static: CA certificates (GitHub over TLS), /etc/passwd with nonroot (65532), tzdata;
# no shell, no package manager, no libc.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="prtracker" \
      org.opencontainers.image.description="A Kubernetes operator that keeps GitHub pull request state labels and custom resources in sync, and reports drift" \
      org.opencontainers.image.source="https://github.com/prtracker/prtracker" \
      org.opencontainers.image.url="https://github.com/prtracker/prtracker" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /prtracker /prtracker
# On distroless's PATH, where the operator's defaults look for them.
COPY --from=tools /out/kustomize /out/helm /usr/local/bin/
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/prtracker"]
CMD ["run"]

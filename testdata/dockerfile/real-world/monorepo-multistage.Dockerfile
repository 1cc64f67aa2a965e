# syntax=docker/dockerfile:1.7-labs
# check=error=true

ARG NODE_IMAGE=node:20.11-bookworm-slim
ARG GO_VERSION=1.22
ARG RUNTIME_BASE="gcr.io/distroless/static-debian12:nonroot"

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS web-deps
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci

FROM web-deps AS web-build
COPY web/ ./
RUN <<EOF
set -eux
npm run build
# this FROM is shell text, not an instruction:
FROM scratch
EOF

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS go-build
ARG TARGETOS TARGETARCH
WORKDIR /src
RUN --mount=type=bind,from=ghcr.io/acme/protoc:25.1,source=/usr/bin/protoc,target=/usr/bin/protoc \
    --mount=type=cache,target=/go/pkg/mod \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/server ./cmd/server
COPY <<-"EOT" /etc/app/config.yaml
	listen: :8080
	FROM: nowhere
	EOT

FROM ${RUNTIME_BASE}
COPY --from=web-build /src/web/dist /srv/www
COPY --from=go-build /out/server /server
COPY --from=docker.io/tianon/true:latest /true /usr/local/bin/true
USER nonroot
ENTRYPOINT ["/server"]

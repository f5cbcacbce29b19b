# syntax=docker/dockerfile:1.7
# secrets-broker image: the broker (/secrets-broker) and its CLI (/brokerctl).
#   docker build --build-arg VERSION=$(git describe --tags --always) -t secrets-broker .
# (`make image` wraps this where a Docker engine exists.)

# Builder: pinned Go toolchain (go.mod asks for go 1.26).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Modules first, so a source change does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/ ./cmd/secrets-broker ./cmd/brokerctl

# Runtime: distroless static (CA certificates, tzdata, /etc/passwd; no shell).
# The image defaults to the "nonroot" user 65532. The Helm chart runs the
# broker as uid 0 with every capability dropped, because kubelet creates the
# hostPath socket directory root-owned and only its owner may create the
# socket there; where the node provides the directory owned by 65532, the
# chart can keep this default user (see charts/secrets-broker/values.yaml,
# podSecurityContext).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/secrets-broker /secrets-broker
COPY --from=build /out/brokerctl /brokerctl
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/secrets-broker"]

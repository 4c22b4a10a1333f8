# Multi-stage build of the static affinity-sync binary, run as a non-root user.
# Note: no Docker engine is available where this project is developed; CI builds the
# same static binary (CGO_ENABLED=0) but this image itself is unverified there.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/affinity-sync ./cmd/affinity-sync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/affinity-sync /usr/local/bin/affinity-sync
# uid 65532 is distroless's nonroot; the compose secret holding the key must be owned by it.
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/affinity-sync"]
CMD ["daemon"]

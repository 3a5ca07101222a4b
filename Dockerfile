# campaign: the CLI and `campaign serve`, in a small static image.
#   docker build -t campaign .
#   docker run --rm -e DATABASE_URL=... -e VAPI_API_KEY=... -p 8080:8080 campaign
# (or `docker compose up -d`, see docker-compose.yml)

FROM golang:1.26 AS build
# The image pins its own toolchain; let go.mod's patch version be fetched if the image is older.
ENV GOTOOLCHAIN=auto
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# `campaign --version` says VERSION when given (docker build --build-arg VERSION=v1.2.3), else
# what the Go toolchain knows, else "(devel)".
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/campaign ./cmd/campaign

# Static binary, CA certificates (for https://api.vapi.ai), no shell, not root. Time zones are
# built into the binary (time/tzdata).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/campaign /usr/local/bin/campaign
USER nonroot:nonroot
EXPOSE 8080
# No shell or curl in the image: campaign asks serve's /healthz itself (exit 0 or 1). Alive, not
# ready: a serve winding down for its --grace is still healthy. Serve on another port: override.
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s --retries=3 \
    CMD ["campaign", "healthcheck", "--listen", "127.0.0.1:8080"]
ENTRYPOINT ["campaign"]
CMD ["serve", "--listen", "0.0.0.0:8080"]

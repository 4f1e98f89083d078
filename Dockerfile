# hookflow: one static binary on a small base image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/hookflow/hookflow/internal/app.Version=${VERSION}" \
    -o /hookflow ./cmd/hookflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /hookflow /hookflow
EXPOSE 8080
ENTRYPOINT ["/hookflow"]
CMD ["serve"]

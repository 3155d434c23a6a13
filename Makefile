# hygie — the two entry points are `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/hygie
DATA    ?= ./hygie-data
# The Go release hygie is built and tested with: its patch releases fix
# vulnerabilities of the standard library that govulncheck finds in the
# code hygie calls (scripts/security.sh). The go command fetches it from
# the module proxy the first time (about 80 MB).
export GOTOOLCHAIN ?= go1.26.11

.PHONY: demo test build vet fmt clean reproducible-check deb security

## demo: run the whole lifecycle on a synthetic cohort, then keep serving the UI and the model
demo: build
	$(BIN) demo --serve --data $(DATA)

## test: every test, against SQLite and PostgreSQL, local disk and MinIO, and Chromium (installed and started when missing)
test:
	scripts/test.sh

# Static (CGO_ENABLED=0) and reproducible: no file system paths (-trimpath),
# no symbol table or build ID (-s -w -buildid=), so the same source and Go
# version give the same bytes. VERSION is recorded for `hygie version`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -s -w -buildid= -X github.com/hygie-health/hygie/internal/app.Version=$(VERSION)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hygie

## reproducible-check: build twice from scratch caches and compare the SHA-256 of the binaries
reproducible-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	CGO_ENABLED=0 GOCACHE=$$tmp/cache1 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$tmp/hygie1 ./cmd/hygie && \
	CGO_ENABLED=0 GOCACHE=$$tmp/cache2 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$tmp/hygie2 ./cmd/hygie && \
	a=$$(sha256sum < $$tmp/hygie1) && b=$$(sha256sum < $$tmp/hygie2) && \
	echo "build 1: $$a" && echo "build 2: $$b" && \
	if [ "$$a" = "$$b" ]; then echo "reproducible-check: identical"; else echo "reproducible-check: binaries differ"; exit 1; fi

## deb: build dist/hygie_<version>_<arch>.deb (packaging/nfpm.yaml) with nfpm, in its own module tools/nfpm
# Reproducible too: every file and the archives are dated SOURCE_DATE_EPOCH
# (the last commit's time). scripts/deb-check.sh builds and checks it.
GOARCH ?= $(shell $(GO) env GOARCH)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
deb: build
	cd tools/nfpm && VERSION=$(VERSION) GOARCH=$(GOARCH) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GOFLAGS=-mod=mod $(GO) run . -config ../../packaging/nfpm.yaml -target ../../dist

## security: govulncheck (local copy of the Go vulnerability database), gosec, and every fuzz target for a bounded time (scripts/security.sh)
security:
	scripts/security.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; echo "gofmt needed"; exit 1)

clean:
	rm -rf bin dist

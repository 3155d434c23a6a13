# hygie — the two entry points are `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/hygie
DATA    ?= ./hygie-data

.PHONY: demo test build vet fmt clean

## demo: run the whole lifecycle on a synthetic cohort, then keep serving the UI and the model
demo: build
	$(BIN) demo --serve --data $(DATA)

## test: every test, against SQLite and PostgreSQL, local disk and MinIO, and Chromium (installed and started when missing)
test:
	scripts/test.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/hygie

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; echo "gofmt needed"; exit 1)

clean:
	rm -rf bin

#!/usr/bin/env bash
# Ensures a MinIO server binary for the S3 tests exists and prints its path as
# the last line of stdout, so that:
#
#   export HYGIE_MINIO_BIN=$(scripts/minio.sh)
#   go test ./internal/blob/   # starts and stops MinIO itself
#
# The binary is built from source at a pinned version with `go install` (a
# few minutes) into ${HYGIE_TOOLS:-$HOME/.cache/hygie/bin}; a binary of the
# same version already in PATH or ~/go/bin is copied instead of rebuilt.
# Everything but the path goes to stderr.
set -euo pipefail

# MinIO tags releases as RELEASE.<date>, which Go does not read as versions:
# the module proxy's latest is this pseudo-version (master, 2026-02-12).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_MODULE=github.com/minio/minio

tools=${HYGIE_TOOLS:-$HOME/.cache/hygie/bin}
bin=$tools/minio

# built_version BINARY: the minio module version BINARY was built from.
built_version() {
	go version -m "$1" 2>/dev/null | awk -v m="$MINIO_MODULE" '$1 == "mod" && $2 == m { print $3 }'
}

is_pinned() {
	[[ -x $1 && -f $1 ]] && [[ $(built_version "$1") == "$MINIO_VERSION" ]]
}

if ! is_pinned "$bin"; then
	mkdir -p "$tools"
	found=
	for candidate in "$(command -v minio || true)" "$(go env GOPATH)/bin/minio" "$HOME/go/bin/minio"; do
		if [[ -n $candidate && $candidate != "$bin" ]] && is_pinned "$candidate"; then
			found=$candidate
			break
		fi
	done
	if [[ -n $found ]]; then
		echo "minio.sh: reusing $found ($MINIO_VERSION)" >&2
		cp "$found" "$bin.tmp.$$"
		mv -f "$bin.tmp.$$" "$bin"
	else
		echo "minio.sh: building $MINIO_MODULE@$MINIO_VERSION into $tools (takes a few minutes)" >&2
		GOBIN=$tools CGO_ENABLED=0 go install "$MINIO_MODULE@$MINIO_VERSION" >&2
	fi
	if ! is_pinned "$bin"; then
		echo "minio.sh: $bin is not $MINIO_MODULE@$MINIO_VERSION after install" >&2
		exit 1
	fi
fi

echo "$bin"

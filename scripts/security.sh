#!/usr/bin/env bash
# Security checks, run by CI after the tests (make security):
#
#   vuln  govulncheck against a local copy of the Go vulnerability database
#         (vuln.go.dev is unreachable from CI: the database is built from
#         golang.org/x/vulndb's data/osv, fetched through the module proxy);
#         fails on a vulnerability in code that hygie calls, including the
#         standard library of the Go toolchain in PATH (upgrade Go to fix those).
#   gosec the static security linter; fails on any finding that is neither
#         excluded in .gosec.json nor listed, with its reason, in
#         tools/security/gosec-accepted.txt (or marked #nosec G… -- reason).
#   fuzz  every fuzz target (func Fuzz… in *_test.go) for a bounded time;
#         fails on a crash, whose input Go keeps in the package's
#         testdata/fuzz/FuzzX/ so that it becomes a regression test.
#
# Usage: scripts/security.sh [vuln] [gosec] [fuzz]   (all three by default)
#
# Settings (environment):
#   HYGIE_FUZZTIME    time per fuzz target (default 10s)
#   HYGIE_FUZZ_TOTAL  total fuzzing budget in seconds, split evenly between
#                     the targets (overrides HYGIE_FUZZTIME)
#   HYGIE_FUZZ_PARALLEL  fuzzing workers per target (default: GOMAXPROCS)
#   HYGIE_TOOLS       where the tools are installed (~/.cache/hygie/bin)
#   HYGIE_VULNDB      where the vulnerability database is built
#                     (~/.cache/hygie/vulndb)
#
# The tools and the database snapshot are pinned below; go install checks
# them against the checksum database. To refresh the vulnerability data,
# move VULNDB_VERSION to the module proxy's latest:
#   go list -m -json golang.org/x/vulndb@latest
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
GOSEC_VERSION=v2.30.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

tools=${HYGIE_TOOLS:-$HOME/.cache/hygie/bin}
vulndb_cache=${HYGIE_VULNDB:-$HOME/.cache/hygie/vulndb}

log() { echo "security.sh: $*" >&2; }

# install NAME PACKAGE VERSION: ensure $tools/NAME is PACKAGE@VERSION.
install() {
	local name=$1 pkg=$2 version=$3 bin=$tools/$1 mod
	mod=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" { print $3 }') || true
	if [[ $mod != "$version" ]]; then
		log "installing $pkg@$version into $tools"
		mkdir -p "$tools"
		# Outside the repository, so that hygie's go.mod is not involved.
		(cd "$tools" && GOBIN=$tools CGO_ENABLED=0 GOFLAGS= go install "$pkg@$version") || return 1
	fi
	echo "$bin"
}

# vulndb: builds (once per snapshot) the v1 database govulncheck reads
# (index/db.json, index/modules.json, index/vulns.json, ID/GO-….json) from
# the OSV entries of golang.org/x/vulndb with its own cmd/indexdb, and
# prints its directory. The OSV files of the repository carry no
# modification time (vuln.go.dev fills it from git history), so the
# database is dated with the snapshot's commit time. (The checks run with
# errexit suspended, as conditions of an if: each step checks for itself.)
vulndb() {
	local dir=$vulndb_cache/$VULNDB_VERSION
	if [[ ! -f $dir/index/db.json ]]; then
		local indexdb json src when tmp
		indexdb=$(install indexdb golang.org/x/vulndb/cmd/indexdb "$VULNDB_VERSION") || return 1
		json=$(cd "$tools" && GOFLAGS= go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION") || return 1
		src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
		when=$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")")
		[[ -d $src/data/osv && -n $when ]] || { log "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv or no time"; return 1; }
		tmp=$dir.tmp.$$
		rm -rf "$tmp"
		mkdir -p "$vulndb_cache" &&
			"$indexdb" -vulns "$src/data/osv" -out "$tmp" >&2 &&
			printf '{"modified":"%s"}' "$when" >"$tmp/index/db.json" &&
			gzip -n -c "$tmp/index/db.json" >"$tmp/index/db.json.gz" &&
			rm -rf "$dir" &&
			mv "$tmp" "$dir" || { log "building the vulnerability database failed"; rm -rf "$tmp"; return 1; }
	fi
	echo "$dir"
}

check_vuln() {
	local govulncheck db modified entries status=0 m
	govulncheck=$(install govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION") || return 1
	db=$(vulndb) || return 1
	modified=$(sed -n 's/.*"modified":"\([^"]*\)".*/\1/p' "$db/index/db.json")
	entries=$(find "$db/ID" -name 'GO-*.json' | wc -l)
	log "vulnerability database: golang.org/x/vulndb@$VULNDB_VERSION, $entries entries, dated $modified"
	# The main module, and the tool modules whose code CI runs.
	for m in . $(find tools -mindepth 2 -maxdepth 2 -name go.mod -printf '%h\n' | sort); do
		log "govulncheck $m"
		# The tool modules are built with -mod=mod (see the Makefile's deb).
		local flags=${GOFLAGS:-}
		[[ $m == . ]] || flags="$flags -mod=mod"
		if ! (cd "$m" && GOFLAGS=$flags "$govulncheck" -db "file://$db" ./...); then
			status=1
		fi
	done
	return $status
}

check_gosec() {
	local gosec report status=0
	gosec=$(install gosec github.com/securego/gosec/v2/cmd/gosec "$GOSEC_VERSION") || return 1
	report=$tmp/gosec.json
	log "gosec ($GOSEC_VERSION) with .gosec.json"
	# -no-fail: the gate below decides (it knows the accepted findings).
	"$gosec" -conf .gosec.json -exclude-generated -no-fail -quiet -fmt json -out "$report" ./... || { log "gosec failed"; return 1; }
	(cd tools/security && go test -count=1 . >&2 && go build -o "$tmp/gosecgate" .) || return 1
	"$tmp/gosecgate" -report "$report" -accepted tools/security/gosec-accepted.txt -root . || status=1
	return $status
}

check_fuzz() {
	local targets n per status=0 dir name crashed=() before after
	# path/to/x_test.go:NN:func FuzzName(f *testing.F) {  (the main module's)
	mapfile -t targets < <(grep -rn --include='*_test.go' '^func Fuzz' internal cmd bench 2>/dev/null |
		sed -n 's/^\(.*\)\/[^/]*_test\.go:[0-9]*:func \(Fuzz[A-Za-z0-9_]*\)(.*/\1 \2/p' | sort)
	n=${#targets[@]}
	[[ $n -gt 0 ]] || { log "no fuzz targets found"; return 1; }
	if [[ -n ${HYGIE_FUZZ_TOTAL:-} ]]; then
		per="$((HYGIE_FUZZ_TOTAL / n > 1 ? HYGIE_FUZZ_TOTAL / n : 1))s"
	else
		per=${HYGIE_FUZZTIME:-10s}
	fi
	log "fuzzing $n targets for $per each"
	local parallel=()
	[[ -n ${HYGIE_FUZZ_PARALLEL:-} ]] && parallel=(-parallel "$HYGIE_FUZZ_PARALLEL")
	for t in "${targets[@]}"; do
		dir=${t% *} name=${t#* }
		before=$(find "$dir/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)
		if ! go test "./$dir" -run '^$' -fuzz "^$name\$" -fuzztime "$per" "${parallel[@]}" >"$tmp/fuzz.log" 2>&1; then
			cat "$tmp/fuzz.log" >&2
			crashed+=("$dir $name")
			status=1
		else
			tail -n 3 "$tmp/fuzz.log" | sed "s|^|  $name: |" >&2
		fi
		after=$(find "$dir/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)
		if [[ $after -gt $before ]]; then
			log "new failing input(s) kept in $dir/testdata/fuzz/$name/: commit them, they are now regression tests"
		fi
	done
	if [[ ${#crashed[@]} -gt 0 ]]; then
		log "fuzz targets that failed: ${crashed[*]}"
	fi
	return $status
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(vuln gosec fuzz)
failed=()
for s in "${steps[@]}"; do
	case $s in
	vuln | gosec | fuzz) ;;
	*) log "unknown check '$s' (want vuln, gosec or fuzz)"; exit 2 ;;
	esac
	start=$SECONDS
	if "check_$s"; then
		log "$s: ok ($((SECONDS - start))s)"
	else
		log "$s: FAILED ($((SECONDS - start))s)"
		failed+=("$s")
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	log "FAILED: ${failed[*]}"
	exit 1
fi
log "all security checks passed: ${steps[*]}"

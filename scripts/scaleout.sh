#!/usr/bin/env bash
# Proves the scale-out deployment end to end, on loopback (docs/deployment.md):
#
#   PostgreSQL (scripts/postgres.sh; a fresh database for the run)
#   MinIO      (scripts/minio.sh's binary; a fresh server and bucket)
#   Slurm      (scripts/slurm.sh; single node)
#   hygie server            on PostgreSQL + S3, jobs on Slurm
#   hygie demo              the lifecycle against the same instance: datasets
#                           and artifacts land in S3, training runs on Slurm
#   hygie serve ×2          stateless replicas (production environment)
#   nginx                   in front of both (scripts/nginx-scaleout.conf)
#
# then sends inference load through nginx (bench/scaleout) while one replica
# is stopped gracefully (SIGTERM) and restarted, and the other killed
# (SIGKILL) and restarted. It fails unless every request succeeded and every
# answered prediction is in the log exactly once. Run as root (Slurm);
# installs nginx from Debian's packages when missing. Bounded: a watchdog
# stops it after HYGIE_SCALEOUT_TIMEOUT seconds (default 290). Everything it
# started is stopped on exit; the working directory (logs) is kept on
# failure and printed. Needs: root, Go, apt-get (nginx, curl, and what the
# service scripts install).
#
# Tunables: HYGIE_SCALEOUT_PORT (first of the loopback ports, default
# 18480), HYGIE_SCALEOUT_DURATION (load, default 30s), HYGIE_SCALEOUT_RATE
# (requests/s, default 300), HYGIE_SCALEOUT_CLIENTS (default 16),
# HYGIE_SCALEOUT_KEEP=1 keeps the working directory (logs) on success too.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_PORT="${HYGIE_SCALEOUT_PORT:-18480}"
DURATION="${HYGIE_SCALEOUT_DURATION:-30s}"
RATE="${HYGIE_SCALEOUT_RATE:-300}"
CLIENTS="${HYGIE_SCALEOUT_CLIENTS:-16}"
TIMEOUT="${HYGIE_SCALEOUT_TIMEOUT:-290}"

SERVER_PORT=$BASE_PORT
DEMO_PORT=$((BASE_PORT + 1))
R1_PORT=$((BASE_PORT + 2))
R2_PORT=$((BASE_PORT + 3))
NGINX_PORT=$((BASE_PORT + 10))
MINIO_PORT=$((BASE_PORT + 11))

say() { echo "scaleout: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
  die "run as root (Slurm's daemons and nginx's installation need it)"
fi

WORK="$(mktemp -d /tmp/hygie-scaleout.XXXXXX)"
RUN="$(date +%s)$$"
DBNAME="hygie_scaleout_$RUN"
BUCKET="hygie-scaleout-$RUN"
mkdir -p "$WORK/bin" "$WORK/data" "$WORK/minio" "$WORK/nginx/tmp"

# --- processes and cleanup --------------------------------------------------

declare -A PIDS=()
ADMIN_URL=""
STATUS=1

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME.log.
start() {
  local name=$1
  shift
  "$@" >>"$WORK/$name.log" 2>&1 &
  PIDS[$name]=$!
}

# stop NAME [SIGNAL]: signals the process (0: none) and waits for it (at
# most 20 s, then SIGKILL); its exit status is left in STOPPED.
STOPPED=0
stop() {
  local name=$1 sig=${2:-TERM} pid=${PIDS[$1]:-} rc=0
  STOPPED=0
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  # (stderr: no "Killed" notice from bash when it reaps the process)
  for _ in $(seq 200); do
    kill -0 "$pid" || break
    sleep 0.1
  done 2>/dev/null
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop within 20 s of SIG$sig: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  { wait "$pid"; } 2>/dev/null || rc=$?
  unset "PIDS[$name]"
  STOPPED=$rc
}

cleanup() {
  local rc=$STATUS
  trap - EXIT INT TERM
  [ -z "${WATCHDOG:-}" ] || kill "$WATCHDOG" 2>/dev/null || true
  for name in load nginx replica1 replica2 server minio; do
    [ -n "${PIDS[$name]:-}" ] && stop "$name"
  done
  if [ -n "$ADMIN_URL" ]; then
    psql "$ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$rc" = 0 ] && [ -z "${HYGIE_SCALEOUT_KEEP:-}" ]; then
    rm -rf "$WORK"
  elif [ "$rc" = 0 ]; then
    say "logs kept in $WORK"
  else
    for f in server demo replica1 replica2 nginx minio; do
      [ -s "$WORK/$f.log" ] && { echo "--- $f.log (last lines)" >&2; tail -n 15 "$WORK/$f.log" >&2; }
    done
    say "logs kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

# The watchdog bounds the whole run.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM # stopped by cleanup: stop its sleep
  sleep "$TIMEOUT" &
  nap=$!
  wait "$nap" && echo "scaleout: FAIL: still running after ${TIMEOUT}s" >&2 && kill -TERM $$ 2>/dev/null
) &
WATCHDOG=$!

# wait_http URL NAME [SECONDS]: until URL answers 200; fails at once if
# the process started as NAME exits.
wait_http() {
  local url=$1 name=$2 n=$((${3:-30} * 10)) pid=${PIDS[$2]:-}
  for _ in $(seq "$n"); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      die "$name exited before answering at $url"
    fi
    sleep 0.1
  done
  die "$name did not answer 200 at $url"
}

# port_free PORT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for p in $SERVER_PORT $DEMO_PORT $R1_PORT $R2_PORT $NGINX_PORT $MINIO_PORT; do
  port_free "$p" || die "port $p is taken (set HYGIE_SCALEOUT_PORT to another range)"
done

# --- tools and services -----------------------------------------------------

if ! command -v nginx >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  say "installing nginx and curl from Debian's packages (without starting the system's nginx service)"
  export DEBIAN_FRONTEND=noninteractive
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && policy=yes
  fi
  rc=0
  { apt-get update -q && apt-get install -y -q nginx curl; } >&2 || rc=$?
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install nginx curl failed"
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

say "building hygie and the load client"
go build -o "$WORK/bin/hygie" ./cmd/hygie
go build -o "$WORK/bin/scaleout" ./bench/scaleout
HYGIE="$WORK/bin/hygie"
CLIENT="$WORK/bin/scaleout"

ADMIN_URL="$(scripts/postgres.sh | tail -n 1)"
MINIO="$(scripts/minio.sh | tail -n 1)"
test "$(scripts/slurm.sh | tail -n 1)" = ok || die "scripts/slurm.sh did not start Slurm"

psql "$ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DBNAME" >/dev/null
DB_URL="${ADMIN_URL%%\?*}"
DB_URL="${DB_URL%/*}/$DBNAME?sslmode=disable"

S3_KEY=hygie-scaleout
S3_SECRET="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MINIO_ROOT_USER=$S3_KEY MINIO_ROOT_PASSWORD=$S3_SECRET MINIO_BROWSER=off MINIO_UPDATE=off \
  start minio "$MINIO" server --quiet --address "127.0.0.1:$MINIO_PORT" "$WORK/minio"
wait_http "http://127.0.0.1:$MINIO_PORT/minio/health/live" minio

# Every hygie process shares this configuration: the database, the object
# store, the data directory (master key, Slurm spool: on a filesystem the
# compute nodes share).
export HYGIE_DATABASE="$DB_URL"
export HYGIE_ARTIFACTS="s3://$BUCKET/hygie"
export HYGIE_S3_ENDPOINT="127.0.0.1:$MINIO_PORT"
export HYGIE_S3_ACCESS_KEY=$S3_KEY
export HYGIE_S3_SECRET_KEY=$S3_SECRET
export HYGIE_DATA="$WORK/data"
export HYGIE_JOBS_EXECUTOR=slurm
export HYGIE_MONITOR_INTERVAL=0
export HYGIE_LOG_LEVEL=warn
# On SIGTERM: 1 s with /readyz failing and no keep-alive, then the listener
# closes and requests in flight are answered (docs/deployment.md).
export HYGIE_SHUTDOWN_DRAIN=1s

# --- the platform and the lifecycle -----------------------------------------

start server "$HYGIE" server --addr "127.0.0.1:$SERVER_PORT"
wait_http "http://127.0.0.1:$SERVER_PORT/readyz" server
say "hygie server ready on 127.0.0.1:$SERVER_PORT (PostgreSQL $DBNAME, s3://$BUCKET/hygie, Slurm executor)"

say "running the demo lifecycle against the instance (training on Slurm)"
T0=$(date +%s)
"$HYGIE" demo --addr "127.0.0.1:$DEMO_PORT" --output json >"$WORK/demo.json" 2>"$WORK/demo.log" ||
  die "hygie demo failed"
say "demo done in $(($(date +%s) - T0)) s"
json() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$WORK/demo.json" | head -n 1; }
CLIN_TOKEN="$(json clinician_token)"
MODEL_VERSION="$(json model_version)"
[ -n "$CLIN_TOKEN" ] && [ -n "$MODEL_VERSION" ] || die "the demo's JSON output has no clinician_token or model_version"

# Datasets and artifacts are in S3, none on local disk.
"$CLIENT" s3ls -endpoint "127.0.0.1:$MINIO_PORT" -bucket "$BUCKET" -prefix hygie >"$WORK/s3.json" ||
  die "no object in s3://$BUCKET/hygie"
grep -q '"datasets"' "$WORK/s3.json" || die "no dataset file in s3://$BUCKET/hygie/datasets"
grep -q '"sha256"' "$WORK/s3.json" || die "no artifact in s3://$BUCKET/hygie/sha256"
[ ! -e "$WORK/data/blobs" ] || die "blobs were written to the local data directory $WORK/data/blobs"
S3_OBJECTS="$(sed -n 's/^  "objects": \([0-9]*\),*$/\1/p' "$WORK/s3.json")"
S3_BYTES="$(sed -n 's/^  "bytes": \([0-9]*\),*$/\1/p' "$WORK/s3.json")"
say "S3: $S3_OBJECTS objects, $S3_BYTES bytes in s3://$BUCKET/hygie (datasets/, sha256/); nothing in $WORK/data/blobs"

# Training ran on Slurm: every job of the run has a Slurm id that Slurm
# reports COMPLETED.
JOBS="$(psql "$DB_URL" -qAt -F ' ' -c "SELECT id, executor, state, external_id FROM jobs ORDER BY id")"
[ -n "$JOBS" ] || die "the demo left no job"
SLURM_IDS=""
while read -r id executor state ext; do
  [ "$executor" = slurm ] && [ "$state" = succeeded ] && [ -n "$ext" ] ||
    die "job $id: executor $executor, state $state, Slurm id '$ext' (want slurm, succeeded, an id)"
  scontrol show job "$ext" 2>/dev/null | grep -q 'JobState=COMPLETED' ||
    die "job $id: Slurm job $ext is not COMPLETED: $(scontrol show job "$ext" 2>&1 | head -n 4 | tr '\n' ' ')"
  SLURM_IDS="$SLURM_IDS $ext"
done <<<"$JOBS"
say "jobs ran on Slurm, COMPLETED:$SLURM_IDS"

# The server sees the lifecycle: the model is in production there.
curl -fsS -H "Authorization: Bearer $CLIN_TOKEN" "http://127.0.0.1:$SERVER_PORT/v2/models/demo-readmission" |
  grep -q '"served_environment":"production"' || die "hygie server does not serve demo-readmission in production"

# --- serving replicas behind nginx ------------------------------------------

replica() { # N PORT
  start "replica$1" "$HYGIE" serve --environment production --addr "127.0.0.1:$2"
}
replica 1 "$R1_PORT"
replica 2 "$R2_PORT"
wait_http "http://127.0.0.1:$R1_PORT/readyz" replica1
wait_http "http://127.0.0.1:$R2_PORT/readyz" replica2

sed -e "s|@DIR@|$WORK/nginx|g" -e "s|@LISTEN@|127.0.0.1:$NGINX_PORT|g" \
  -e "s|@REPLICA1@|127.0.0.1:$R1_PORT|g" -e "s|@REPLICA2@|127.0.0.1:$R2_PORT|g" \
  scripts/nginx-scaleout.conf >"$WORK/nginx/nginx.conf"
"$NGINX" -t -q -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>>"$WORK/nginx.log" || die "nginx -t refused the configuration"
start nginx "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
wait_http "http://127.0.0.1:$NGINX_PORT/v2/health/ready" nginx
say "nginx on 127.0.0.1:$NGINX_PORT → replicas 127.0.0.1:$R1_PORT, 127.0.0.1:$R2_PORT"

# --- load, with a graceful stop and a hard kill ------------------------------

say "load: $RATE requests/s, $CLIENTS clients, $DURATION through nginx"
start load "$CLIENT" load -url "http://127.0.0.1:$NGINX_PORT" -model demo-readmission -token "$CLIN_TOKEN" \
  -database "$DB_URL" -duration "$DURATION" -rate "$RATE" -clients "$CLIENTS" \
  -replicas "http://127.0.0.1:$R1_PORT,http://127.0.0.1:$R2_PORT"
# The summary is load.log's JSON; its errors go there too.
secs() { local d=${DURATION%s}; echo "${d%.*}"; }
D="$(secs)"
sleep "$((D / 5))"
say "replica 1: SIGTERM (graceful stop)"
T0=$(date +%s%N)
kill -TERM "${PIDS[replica1]}"
sleep 0.3
DRAIN_READY="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$R1_PORT/readyz" || true)"
stop replica1 0 # wait (a second SIGTERM would end it at once)
GRACEFUL_MS=$((($(date +%s%N) - T0) / 1000000))
[ "$STOPPED" = 0 ] || die "replica 1 exited with status $STOPPED on SIGTERM (want 0)"
[ "$DRAIN_READY" = 503 ] || die "replica 1 answered /readyz with $DRAIN_READY while draining (want 503)"
sleep 2
replica 1 "$R1_PORT"
T0=$(date +%s%N)
wait_http "http://127.0.0.1:$R1_PORT/readyz" replica1
RESTART1_MS=$((($(date +%s%N) - T0) / 1000000))
sleep "$((D / 5))"
say "replica 2: SIGKILL (crash)"
stop replica2 KILL
sleep 2
replica 2 "$R2_PORT"
T0=$(date +%s%N)
wait_http "http://127.0.0.1:$R2_PORT/readyz" replica2
RESTART2_MS=$((($(date +%s%N) - T0) / 1000000))

LOAD_RC=0
wait "${PIDS[load]}" || LOAD_RC=$?
unset "PIDS[load]"
SUMMARY="$(sed -n '/^{/,/^}/p' "$WORK/load.log")"
[ -n "$SUMMARY" ] || die "the load client printed no summary: $(tail -n 5 "$WORK/load.log")"
field() { sed -n "s/^  \"$1\": \([^,]*\),*$/\1/p" <<<"$SUMMARY" | head -n 1; }
inner() { sed -n "s/^    \"$1\": \([^,]*\),*$/\1/p" <<<"$SUMMARY" | head -n 1; } # in cross_replica_retry

RETRIED="$(grep -c 'upstream=[^ ]*, ' "$WORK/nginx/access.log" || true)"
# Requests a replica received but never answered (reset or closed
# connection), by replica: nginx retried them on the other one.
lost() { grep -E 'prematurely closed|reset by peer' "$WORK/nginx/error.log" | grep -c "upstream: \"http://127.0.0.1:$1/" || true; }
LOST1="$(lost "$R1_PORT")"
LOST2="$(lost "$R2_PORT")"
INFERS="$(grep -c '/infer ' "$WORK/nginx/access.log" || true)"
cat >&2 <<EOF

scaleout summary
  lifecycle   demo on PostgreSQL ($DBNAME) + S3 ($S3_OBJECTS objects, $S3_BYTES bytes) + Slurm (jobs$SLURM_IDS), model version $MODEL_VERSION in production
  load        $(field requests) requests in $(field duration_s) s ($(field rate_per_s)/s, $CLIENTS clients) through nginx
  failures    $(field failed) seen by the client
  latency     p50 $(field p50_ms) ms, p99 $(field p99_ms) ms, max $(field max_ms) ms
  log         $(field logged) predictions logged for $(field answered) answered ($(field logged_request_ids) distinct request ids, $(field duplicate_predictions) duplicates, $(field missing_predictions) missing)
  nginx       $INFERS inference requests, $RETRIED retried on the other replica
  idempotency one request sent to both replicas with one Idempotency-Key: same prediction id: $(inner same_prediction_id), logged $(inner logged) time(s)
  replica 1   SIGTERM: /readyz $DRAIN_READY while draining, exited 0 in $GRACEFUL_MS ms, $LOST1 requests cut in transit; ready again $RESTART1_MS ms after restart
  replica 2   SIGKILL: $LOST2 requests cut in transit; ready again $RESTART2_MS ms after restart
EOF
echo "$SUMMARY"
[ "$LOAD_RC" = 0 ] || die "the load client failed: $(grep -v '^[ {}]' "$WORK/load.log" | tail -n 3)"
[ "$(field failed)" = 0 ] || die "requests failed"
[ "$(field log_verified)" = true ] || die "the prediction log does not match the answers"
say "ok"
STATUS=0

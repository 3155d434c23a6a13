#!/usr/bin/env bash
# Starts a single-node Slurm cluster on loopback for hygie's Slurm executor
# tests (HYGIE_TEST_SLURM=1), installing Debian's slurm-wlm and munge when
# they are missing. Run as root. Idempotent: daemons already running with the
# same configuration are reused. Prints "ok" as its last line.
#
# The cluster: ClusterName=hygie, one node named after this host at
# 127.0.0.1 with this machine's CPUs and most of its memory, one partition
# "debug" (the default), no accounting, no cgroups (proctrack/linuxproc,
# task/none), ended jobs remembered by the controller for 10 minutes
# (MinJobAge=600) so `scontrol show job` reports their final state.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "slurm.sh: must run as root (it installs packages and starts slurmctld, slurmd and munged)" >&2
  exit 1
fi

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
STATE=/var/lib/slurm-hygie
HOST="$(hostname -s)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 ||
   ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm.sh: installing slurm-wlm and munge from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q slurm-wlm munge >&2
fi

# munge: Slurm's authentication. One key, one daemon.
id munge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  echo "slurm.sh: creating /etc/munge/munge.key" >&2
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key >&2
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "slurm.sh: starting munged" >&2
  runuser -u munge -- /usr/sbin/munged >&2
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null
fi

# slurm.conf for one node on loopback, sized from this machine.
CPUS="$(nproc)"
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
MARGIN=$(( MEM_MB / 10 ))
[ "$MARGIN" -lt 256 ] && MARGIN=256
REAL_MEM=$(( MEM_MB - MARGIN ))
[ "$REAL_MEM" -lt 256 ] && REAL_MEM=256

id slurm >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin slurm
install -d -m 0755 "$CONF_DIR" "$STATE" "$STATE/slurmd"
install -d -o slurm -g slurm -m 0755 "$STATE/ctld" /var/log/slurm-hygie

NEW_CONF="$(cat <<EOF
# Written by hygie's scripts/slurm.sh: a single-node test cluster.
ClusterName=hygie
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm-hygie/slurmctld.log
SlurmdLogFile=/var/log/slurm-hygie/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=1
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
MpiDefault=none
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)"

# No cgroup.conf: none of the plugins above uses cgroups, and Debian 12's
# Slurm 22.05 runs without one (checked: slurmd starts and runs jobs).

changed=no
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
  printf '%s\n' "$NEW_CONF" >"$CONF"
  changed=yes
fi
chmod 0644 "$CONF"

# running PIDFILE: the daemon whose pid the file names is alive.
running() {
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop() { # PIDFILE
  if running "$1"; then
    local pid
    pid="$(cat "$1")"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

if [ "$changed" = yes ]; then
  stop "$STATE/slurmd.pid"
  stop "$STATE/slurmctld.pid"
fi
if ! running "$STATE/slurmctld.pid"; then
  echo "slurm.sh: starting slurmctld" >&2
  slurmctld -f "$CONF" >&2
fi
for _ in $(seq 100); do
  scontrol ping 2>/dev/null | grep -q 'is UP' && break
  sleep 0.2
done
if ! running "$STATE/slurmd.pid"; then
  echo "slurm.sh: starting slurmd" >&2
  slurmd -f "$CONF" >&2
fi

# Wait for the node to come up idle, resuming it if it comes up down or
# drained (e.g. after an unclean stop).
state=""
for i in $(seq 120); do
  state="$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -n 1 || true)"
  case "$state" in
    idle|mix|alloc|comp) break ;;
    down*|drain*|drng*|fail*)
      if [ $((i % 10)) = 1 ]; then
        scontrol update nodename="$HOST" state=resume >&2 2>/dev/null || true
      fi ;;
  esac
  sleep 0.5
done
case "$state" in
  idle|mix|alloc|comp) ;;
  *)
    echo "slurm.sh: node $HOST is '$state', not idle, after 60 s; logs:" >&2
    tail -n 20 /var/log/slurm-hygie/slurmctld.log /var/log/slurm-hygie/slurmd.log >&2 || true
    exit 1 ;;
esac
echo ok

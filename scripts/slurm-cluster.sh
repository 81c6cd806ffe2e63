#!/usr/bin/env bash
# Throw-away single-node Slurm 22.05 cluster (Debian 12 packages) for tests and CI.
#
#   scripts/slurm-cluster.sh start    install packages if needed, start munged, MariaDB,
#                                     slurmdbd, slurmctld, slurmd; wait until the node is idle
#   scripts/slurm-cluster.sh stop     cancel all jobs, stop the daemons this script started
#   scripts/slurm-cluster.sh status   exit 0 if the cluster answers and its node is usable
#
# Must run as root (it installs packages, writes /etc/slurm and runs the daemons as root).
# Works without systemd: every daemon is started by hand and its pid recorded in
# $SLURM_CLUSTER_DIR/pids; `stop` signals only those pids (never by process name, so it
# cannot hit an unrelated process on a developer's machine).
#
# Environment:
#   SLURM_CLUSTER_DIR      state, logs, pid file, MariaDB datadir   (default /tmp/tracker-slurm)
#   SLURM_CLUSTER_DB_PORT  loopback TCP port of the private MariaDB  (default 3307, so that a
#                          system MariaDB/MySQL on 3306 does not collide with it)
#
# Exit codes: 0 ok, 1 failure (the log tail is printed), 2 not root / bad usage,
#             3 `status`: no cluster started by this script.
set -euo pipefail
# the daemons live in /usr/sbin, which a non-login root shell (CI, sudo) may lack in PATH
export PATH=$PATH:/usr/sbin:/sbin

DIR=${SLURM_CLUSTER_DIR:-/tmp/tracker-slurm}
DB_PORT=${SLURM_CLUSTER_DB_PORT:-3307}
PIDS=$DIR/pids
LOGS=$DIR/log
CLUSTER=tracker
NODE=$(hostname -s)
# Packages: mariadb-*-core instead of mariadb-server because we run our own mariadbd on a
# private datadir; the full server package only adds perl/galera/init scripts (slower install).
PACKAGES="munge slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core"
T0=$(date +%s)

say() { echo "[slurm-cluster +$(( $(date +%s) - T0 ))s] $*"; }

# Print an error and the tail of the logs that explain it, tear down whatever this start
# already launched (so the next `start` is clean), and exit 1. Logs are kept for reading.
die() {
  local msg=$1; shift
  echo "ERROR: $msg" >&2
  [[ "${1:-}" == "("* ]] && { echo "  $1" >&2; shift; }
  local f
  for f in "$@"; do
    [ -e "$f" ] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2 || true
  done
  if [ "${STARTING:-0}" = 1 ] && [ -f "$PIDS" ]; then
    echo "stopping the daemons started so far (logs stay in $LOGS)" >&2
    stop_daemons >&2 || true
  fi
  exit 1
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "ERROR: $0 must run as root (it installs Debian packages, writes /etc/slurm and" \
         "runs the Slurm daemons as root); try: sudo $0 ${1:-}" >&2
    exit 2
  fi
}

# A recorded pid counts as our daemon only while its comm (kernel process name, max 15
# chars) still matches: guards against signalling an unrelated process that reused the pid
# of a daemon that died long ago. A zombie counts as gone: the daemons are reparented to
# pid 1, which in containers may reap them only seconds later.
alive() {  # alive <name> <pid>
  [ -n "${2:-}" ] && [ -r "/proc/$2/stat" ] || return 1
  [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ] || return 1
  local stat; stat=$(cat "/proc/$2/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # fields after "pid (comm) ": the first is the state letter
  [ "${stat%% *}" != Z ]
}

# "<comm> <pid>" lines in start order; `stop` walks the file backwards so that slurmd and
# slurmctld go before the accounting daemons they still talk to while shutting down.
# Each daemon's log is $LOGS/<comm>.log.
record() { echo "$1 $2" >>"$PIDS"; }
recorded_pid() { awk -v n="$1" '$1 == n {print $2}' "$PIDS" 2>/dev/null | tail -n 1; }

# Node state as the controller sees it; `timeout` because a hung slurmctld would otherwise
# block sinfo for MessageTimeout retries.
node_state() { timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1; }

# "completing" is accepted too: the node is healthy, only a job is being cleaned up.
usable_state() { [[ "$1" =~ ^(idle|mixed|allocated|completing)$ ]]; }
node_usable() { usable_state "$(node_state)"; }
# usable, or in a state it will not leave by itself (bad config, e.g. RealMemory too high)
node_settled() { local st; st=$(node_state); usable_state "$st" || [[ "$st" =~ drain|inval|fail ]]; }

all_recorded_alive() {
  [ -s "$PIDS" ] || return 1
  local name pid
  while read -r name pid; do alive "$name" "$pid" || return 1; done <"$PIDS"
}

# Name of the first recorded daemon that is no longer running (status 1 if none).
dead_daemon() {
  [ -f "$PIDS" ] || return 1
  local name pid
  while read -r name pid; do alive "$name" "$pid" || { echo "$name"; return 0; }; done <"$PIDS"
  return 1
}

# wait_for <seconds> <what> <log>... -- <command...>: poll the command. Fail fast, with the
# dead daemon's log, if any daemon started so far died meanwhile, instead of waiting out
# the timeout; on timeout show the given logs.
wait_for() {
  local secs=$1 what=$2 logs=() dead; shift 2
  while [ "$1" != -- ]; do logs+=("$1"); shift; done; shift
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if dead=$(dead_daemon); then die "$dead exited while waiting for $what" "$LOGS/$dead.log"; fi
    [ "$(date +%s)" -lt "$end" ] || die "timed out after ${secs}s waiting for $what" "${logs[@]}"
    sleep 0.2
  done
}

# Wait for a daemonizing program's pid file and return the pid in $REPLY.
wait_pidfile() {  # wait_pidfile <name> <pidfile> <log>
  local end=$(( $(date +%s) + 15 ))
  until [ -s "$2" ] && alive "$1" "$(cat "$2")"; do
    [ "$(date +%s)" -lt "$end" ] || die "$1 did not come up (no live pid in $2)" "$3"
    sleep 0.1
  done
  REPLY=$(cat "$2")
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------------------------ stop
# Job processes survive slurmd's exit, and scancel cannot reach them when slurmctld is
# already dead (crashed cluster). Their pids are asked from Slurm itself: `scontrol listpids`
# queries the step daemons through the sockets in our SlurmdSpoolDir (no slurmctld needed).
# Each step's first task is a child of its slurmstepd, which is stopped after its tasks.
kill_leftover_steps() {
  [ -d "$DIR/spool" ] || return 0
  local pids pid ppid stepds=""
  pids=$(timeout 10 scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}' || true)
  [ -n "$pids" ] || return 0
  say "killing leftover job processes: $(tr "\n" " " <<<"$pids")"
  for pid in $pids; do
    ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || true)
    alive slurmstepd "$ppid" && stepds="$stepds $ppid"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in $stepds; do
    # slurmstepd normally exits once its tasks are gone; give it a moment to do so cleanly
    for _ in $(seq 1 30); do alive slurmstepd "$pid" || break; sleep 0.1; done
    if alive slurmstepd "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

stop_daemons() {
  [ -f "$PIDS" ] || return 0
  local name pid
  # slurmd leaves running job steps behind when it exits, so cancel every job first while
  # the controller is still there, and wait until the node has cleaned them up.
  if alive slurmctld "$(recorded_pid slurmctld)"; then
    local jobs
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      say "cancelling jobs: $(tr "\n" " " <<<"$jobs")"
      # shellcheck disable=SC2086
      timeout 10 scancel $jobs 2>/dev/null || true
      # KillWait=5 s between SIGTERM and SIGKILL, plus epilog/cleanup
      for _ in $(seq 1 100); do [ -z "$(timeout 10 squeue -h 2>/dev/null)" ] && break; sleep 0.3; done
    fi
  fi
  kill_leftover_steps
  tac "$PIDS" | while read -r name pid; do
    if ! alive "$name" "$pid"; then say "$name ($pid) already gone"; continue; fi
    kill -TERM "$pid"
    for _ in $(seq 1 200); do alive "$name" "$pid" || break; sleep 0.1; done
    if alive "$name" "$pid"; then say "$name ($pid) ignored SIGTERM for 20s, sending SIGKILL"; kill -KILL "$pid"; fi
    say "stopped $name ($pid)"
  done
  rm -f "$PIDS"
}

cmd_stop() {
  need_root stop
  if [ ! -f "$PIDS" ]; then say "no $PIDS: no cluster started by this script is running"; return 0; fi
  stop_daemons
  say "cluster stopped"
}

# ------------------------------------------------------------------------------ status
cmd_status() {
  need_root status
  if [ ! -f "$PIDS" ]; then echo "not running (no $PIDS)"; return 3; fi
  local name pid ok=0
  while read -r name pid; do
    if alive "$name" "$pid"; then echo "$name pid $pid: running"; else echo "$name pid $pid: DEAD"; ok=1; fi
  done <"$PIDS"
  # ask the controller only if it is alive: sinfo would otherwise retry for ~10 s
  local st=""
  alive slurmctld "$(recorded_pid slurmctld)" && st=$(node_state || true)
  echo "node $NODE: ${st:-no answer from slurmctld}"
  usable_state "$st" || ok=1
  [ "$ok" = 0 ] && echo "cluster OK" || echo "cluster NOT healthy (logs: $LOGS)"
  return "$ok"
}

# ------------------------------------------------------------------------------ start
install_packages() {
  local p missing=""
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  say "installing Debian packages:$missing (log: $LOGS/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' postinst would start munge/slurmd/... through their init scripts, leaving
  # unrecorded daemons behind; a policy-rc.d that answers 101 forbids that. Docker-style
  # images already have one; add ours only if missing and remove it again afterwards.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  # Try with the current package lists first (fast); refresh them only if that fails
  # (fresh machine without lists, or lists pointing at superseded versions).
  # shellcheck disable=SC2086
  if ! apt-get install -y -q --no-install-recommends $missing >>"$LOGS/apt.log" 2>&1; then
    say "install failed with the current package lists; running apt-get update and retrying"
    # shellcheck disable=SC2086
    { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } \
      >>"$LOGS/apt.log" 2>&1 || rc=$?
  fi
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install failed" "$LOGS/apt.log"
  say "packages installed"
}

start_munge() {
  # Slurm clients and daemons talk to munged through its default socket, so a munged that
  # already answers (e.g. the system's) is shared, not recorded and not stopped by us.
  # (probe only if munged's pid file names a live munged: against a stale socket left by a
  # killed munged the munge client retries for seconds before giving up)
  if alive munged "$(cat /run/munge/munged.pid 2>/dev/null)" &&
     munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munged already running (not started by this script), reusing it"
    return
  fi
  if [ ! -s /etc/munge/munge.key ]; then   # the munge postinst normally creates it
    mungekey --create --keyfile=/etc/munge/munge.key
  fi
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid
  # munged writes its log as the munge user, into our root-owned log dir
  install -o munge -g munge -m 0644 /dev/null "$LOGS/munged.log"
  # munged daemonizes by itself and refuses to run as root
  runuser -u munge -- /usr/sbin/munged --log-file="$LOGS/munged.log" \
    || die "munged failed to start" "$LOGS/munged.log"
  wait_pidfile munged /run/munge/munged.pid "$LOGS/munged.log"
  record munged "$REPLY"
  wait_for 10 "munge to answer" "$LOGS/munged.log" -- bash -c 'munge -n | unmunge'
  say "munged up (pid $REPLY)"
}

start_mariadb() {
  # A private datadir in the state dir, recreated on every start: the accounting DB is
  # fresh, matching the fresh StateSaveLocation where job ids restart at 1 (stale sacct rows
  # with the same ids would make submitit believe a new job had already finished).
  # Runs as root (--user=root) so no system user is needed; it listens on loopback only.
  local data=$DIR/mariadb
  mkdir -p "$data"
  mariadb-install-db --no-defaults --user=root --datadir="$data" --skip-test-db \
    --auth-root-authentication-method=socket >"$LOGS/mariadb-install-db.log" 2>&1 \
    || die "mariadb-install-db failed" "$LOGS/mariadb-install-db.log"
  # setsid: own session, so a terminal's Ctrl-C or the caller's process group teardown
  # does not hit it (in a non-interactive shell setsid execs in place, so $! is mariadbd).
  # Durability knobs are off: the DB is thrown away anyway and slurmdbd's first start
  # creates dozens of tables, which is much faster without an fsync per statement.
  setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir="$data" \
    --socket="$DIR/mariadb.sock" --pid-file="$DIR/mariadbd.pid" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --sync-binlog=0 \
    --innodb-buffer-pool-size=1G --innodb-lock-wait-timeout=900 --log-error="$LOGS/mariadbd.log" \
    </dev/null >>"$LOGS/mariadbd.log" 2>&1 &
  local pid=$!
  record mariadbd "$pid"
  wait_for 60 "mariadbd to accept connections" "$LOGS/mariadbd.log" -- \
    mariadb --no-defaults --socket="$DIR/mariadb.sock" -e "SELECT 1"
  mariadb --no-defaults --socket="$DIR/mariadb.sock" -e "
      CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
    || die "could not create the slurm DB user" "$LOGS/mariadbd.log"
  say "mariadbd up (pid $pid, 127.0.0.1:$DB_PORT)"
}

write_configs() {
  local ncpu mem_mb
  ncpu=$(nproc)
  # leave 10% for the OS; RealMemory above what slurmd detects would drain the node
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 9 / 10 / 1024 ))
  mkdir -p /etc/slurm
  cat >/etc/slurm/slurmdbd.conf <<EOF
# written by scripts/slurm-cluster.sh (throw-away test cluster, state in $DIR)
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
DebugLevel=info
LogFile=$LOGS/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  # slurmdbd refuses a config file readable by others (it holds the DB password)
  chmod 600 /etc/slurm/slurmdbd.conf
  cat >/etc/slurm/slurm.conf <<EOF
# written by scripts/slurm-cluster.sh (throw-away test cluster, state in $DIR)
ClusterName=$CLUSTER
# NodeAddr/ControlAddr 127.0.0.1: works even where the hostname does not resolve
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# a requeued job may only start again after cred_expire seconds (default 120)
AuthInfo=cred_expire=10
MpiDefault=none
# no cgroups: containers and CI machines often have no writable cgroup tree
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# pending/requeued jobs are looked at every 2 s instead of every 30 s (backfill) / 60 s (main)
SchedulerParameters=bf_interval=2,sched_interval=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# submitit ignores SIGTERM on cancel/requeue; SIGKILL follows KillWait s later (default 30)
KillWait=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_slurm_daemon() {  # start_slurm_daemon <name> <pidfile>
  local name=$1 pidfile=$2 log=$LOGS/$1.log
  rm -f "$pidfile"
  # each daemonizes by itself; config errors make it exit non-zero before that
  "$name" >>"$LOGS/$name.stderr" 2>&1 || die "$name failed to start" "$LOGS/$name.stderr" "$log"
  wait_pidfile "$name" "$pidfile" "$log"
  record "$name" "$REPLY"
}

cmd_start() {
  need_root start
  case $DIR in /?*) ;; *) echo "ERROR: SLURM_CLUSTER_DIR must be an absolute path" >&2; exit 2 ;; esac
  if ! [[ $DB_PORT =~ ^[0-9]+$ ]] || [ "$DB_PORT" -lt 1024 ] || [ "$DB_PORT" -gt 65535 ]; then
    echo "ERROR: SLURM_CLUSTER_DB_PORT must be a port number in 1024-65535" >&2; exit 2
  fi
  if [ -f "$PIDS" ]; then
    if all_recorded_alive && node_usable; then
      say "cluster already running and healthy (pids in $PIDS); nothing to do"
      return 0
    fi
    say "found $PIDS from a cluster that is dead or unhealthy: stopping its leftovers, starting fresh"
    stop_daemons
  fi
  # Only our own sub-paths are removed, never "$DIR" itself (it may be a user-chosen path).
  rm -rf "$LOGS" "$DIR/state" "$DIR/spool" "$DIR/mariadb" "$DIR"/*.pid "$DIR/mariadb.sock"
  mkdir -p "$LOGS" "$DIR/state" "$DIR/spool"
  # Another Slurm or DB server (not recorded by us) holding the ports would make the daemons
  # fail with a less obvious error, so check up front.
  local port
  for port in 6817 6818 6819 "$DB_PORT"; do
    port_in_use "$port" && die "TCP port $port on 127.0.0.1 is already in use by a process this script did not start" \
      "(slurmctld 6817, slurmd 6818, slurmdbd 6819, MariaDB \$SLURM_CLUSTER_DB_PORT=$DB_PORT)"
  done

  install_packages
  STARTING=1   # from here on, die() tears down what was started

  start_munge
  start_mariadb
  write_configs

  start_slurm_daemon slurmdbd "$DIR/slurmdbd.pid"
  local dbd_pid=$REPLY
  wait_for 90 "slurmdbd to answer (creates its tables on first start)" "$LOGS/slurmdbd.log" -- \
    timeout 10 sacctmgr -n list cluster
  say "slurmdbd up (pid $dbd_pid)"

  start_slurm_daemon slurmctld "$DIR/slurmctld.pid"
  local ctld_pid=$REPLY
  start_slurm_daemon slurmd "$DIR/slurmd.pid"
  local slurmd_pid=$REPLY
  say "slurmctld (pid $ctld_pid) and slurmd (pid $slurmd_pid) started"
  wait_for 60 "node $NODE to become idle" "$LOGS/slurmctld.log" "$LOGS/slurmd.log" -- node_settled
  node_usable || die "node $NODE is $(node_state): $(timeout 10 sinfo -h -R -o %E)" \
    "$LOGS/slurmctld.log" "$LOGS/slurmd.log"
  # slurmctld registers the cluster in the (fresh) accounting DB by itself; until it has,
  # sacct answers nothing useful, so wait for the registered control port.
  wait_for 30 "cluster '$CLUSTER' to register with slurmdbd" "$LOGS/slurmctld.log" "$LOGS/slurmdbd.log" -- \
    bash -c "timeout 10 sacctmgr -n -P list cluster format=cluster,controlport | grep -q '^$CLUSTER|[1-9]'"
  STARTING=0
  say "cluster up in $(( $(date +%s) - T0 ))s; logs in $LOGS, pids in $PIDS"
  sinfo
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status   (state dir: \$SLURM_CLUSTER_DIR, default /tmp/tracker-slurm)" >&2; exit 2 ;;
esac

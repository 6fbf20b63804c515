#!/usr/bin/env bash
# A private single-node SLURM cluster (munge, mariadb, slurmdbd, slurmctld, slurmd) and an sshd,
# all on loopback under one state directory, started and stopped by hand as root.
#
#   tests/infra/cluster.sh install   install the Debian packages that are missing
#   tests/infra/cluster.sh start     start everything; writes $STATE/env.sh for the tests
#   tests/infra/cluster.sh stop      stop everything this script started
#   tests/infra/cluster.sh status    print what is running
#   tests/infra/cluster.sh check-stopped   fail if any daemon of this cluster is still running
set -euo pipefail

STATE=${JOBDECK_CLUSTER_STATE:-/tmp/jobdeck-cluster}
CTLD_PORT=${JOBDECK_CTLD_PORT:-16817}
SLURMD_PORT=${JOBDECK_SLURMD_PORT:-16818}
DBD_PORT=${JOBDECK_DBD_PORT:-16819}
MYSQL_PORT=${JOBDECK_MYSQL_PORT:-16820}
SSHD_PORT=${JOBDECK_SSHD_PORT:-16822}
MIN_JOB_AGE=${JOBDECK_MIN_JOB_AGE:-60}
NODE=jobdeck-node
MUNGE_SOCKET=$STATE/munge/munge.socket
PACKAGES=(slurm-wlm slurm-client munge slurmdbd mariadb-server openssh-server tmux procps)

# shellcheck source=tests/infra/daemons.sh
source "$(dirname "$0")/daemons.sh"

log() { printf '[cluster] %s\n' "$*" >&2; }

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        local out
        out=$(mktemp)
        if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$out" 2>&1; then
            cat "$out" >&2
            rm -f "$out"
            log "installing ${missing[*]} failed"
            return 1
        fi
        rm -f "$out"
    fi
}

start_munge() {
    # A munged of our own on a private socket, so the cluster needs nothing of the machine's munge and
    # `stop` knows exactly which daemon is ours (several clusters may run side by side).
    local dir=$STATE/munge
    mkdir -p "$dir"
    [[ -s $dir/munge.key ]] || dd if=/dev/urandom of="$dir/munge.key" bs=1 count=1024 status=none
    chown -R munge:munge "$dir"
    chmod 0755 "$dir"
    chmod 0400 "$dir/munge.key"
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --key-file="$dir/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munged.seed"
    wait_for 10 munge bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'"
}

start_mariadb() {
    # Accounting starts empty at every start, like the controller's spool: job IDs begin again at 1,
    # and old rows under the same IDs would otherwise answer for the new jobs.
    local data=$STATE/mysql
    if [[ ! -d $data/mysql ]]; then
        mkdir -p "$data"
        mariadb-install-db --user=root --datadir="$data" --auth-root-authentication-method=socket \
            --skip-test-db >"$STATE/mariadb-install.log" 2>&1
    fi
    /usr/sbin/mysqld --user=root --datadir="$data" --bind-address=127.0.0.1 --port="$MYSQL_PORT" \
        --socket="$STATE/mysql.sock" --pid-file="$STATE/mysqld.pid" --log-error="$STATE/mysqld.log" \
        --skip-log-bin --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
    wait_for 60 mariadb mariadb --socket="$STATE/mysql.sock" -e 'select 1'
    mariadb --socket="$STATE/mysql.sock" <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'jobdeck';
DROP DATABASE IF EXISTS slurm_acct_db;
CREATE DATABASE slurm_acct_db;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
}

write_configs() {
    local etc=$STATE/etc
    mkdir -p "$etc" "$STATE/spool/ctld" "$STATE/spool/d" "$STATE/log"
    cat >"$etc/slurm.conf" <<CONF
ClusterName=jobdeck
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MailProg=/bin/true
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
MaxArraySize=10001
MaxJobCount=30000
KillWait=2
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCKET
AccountingStoreFlags=job_comment
NodeName=$NODE NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    cat >"$etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=jobdeck
StorageLoc=slurm_acct_db
CONF
    chmod 600 "$etc/slurmdbd.conf"
    echo "# no cgroup plugin: ProctrackType=proctrack/linuxproc" >"$etc/cgroup.conf"
}

start_slurm() {
    export SLURM_CONF=$STATE/etc/slurm.conf
    /usr/sbin/slurmdbd
    wait_for 30 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$DBD_PORT"
    /usr/sbin/slurmctld -i
    wait_for 30 slurmctld scontrol ping
    /usr/sbin/slurmd -N "$NODE"
    wait_for 30 "node $NODE idle" bash -c "sinfo -h -N -o %t | grep -qx idle"
    wait_for 30 "sacct" sacct -X -n -S now-1minute
}

start_sshd() {
    local dir=$STATE/ssh
    mkdir -p "$dir" /run/sshd
    chmod 700 "$dir"
    [[ -f $dir/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
    [[ -f $dir/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_ed25519"
    cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
    chmod 600 "$dir/authorized_keys"
    cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $dir/host_ed25519
PidFile $STATE/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 200
MaxStartups 200
SetEnv SLURM_CONF=$STATE/etc/slurm.conf
Subsystem sftp internal-sftp
CONF
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$STATE/log/sshd.log"
    echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
    cat >"$dir/config" <<CONF
Host jobdeck-test
    HostName 127.0.0.1
    Port $SSHD_PORT
    User root
    IdentityFile $dir/client_ed25519
    UserKnownHostsFile $dir/known_hosts
CONF
    wait_for 10 sshd ssh -F "$dir/config" -o BatchMode=yes jobdeck-test true
}

write_env() {
    cat >"$STATE/env.sh" <<ENV
export SLURM_CONF=$STATE/etc/slurm.conf
export JOBDECK_TEST_CLUSTER=$STATE
export JOBDECK_TEST_SSH_CONFIG=$STATE/ssh/config
export JOBDECK_TEST_SSH_HOST=jobdeck-test
ENV
}

stop_all() {
    stop_pidfile "$STATE/sshd.pid"
    stop_pidfile "$STATE/slurmd.pid"
    stop_pidfile "$STATE/slurmctld.pid"
    stop_pidfile "$STATE/slurmdbd.pid"
    stop_pidfile "$STATE/mysqld.pid"
    stop_pidfile "$STATE/munge/munged.pid"
    stop_leftovers
}

leftovers() { # this cluster's daemons and jobs still running: their command line or environment names $STATE
    local pid env
    for pid in $(ps -eo pid= --no-headers); do
        [[ $pid == "$$" ]] && continue
        env=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ") || continue
        grep -qxF "SLURM_CONF=$STATE/etc/slurm.conf" <<<"$env" && grep -q '^SLURM_JOB_ID=' <<<"$env" && { echo "$pid"; continue; }
        case $(cat 2>/dev/null "/proc/$pid/comm") in
            munged | mysqld | mariadbd | slurmdbd | slurmctld | slurmd | slurmstepd | sshd) ;;
            *) continue ;;
        esac
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$STATE/" ||
            grep -qxF "SLURM_CONF=$STATE/etc/slurm.conf" <<<"$env"; then
            echo "$pid"
        fi
    done
}

stop_leftovers() { # what a lost pid file (a crash, an older version of this script) left running
    local pids
    pids=$(leftovers)
    [[ -n $pids ]] || return 0
    log "stopping what was left running: $(describe $pids)"
    kill $pids 2>/dev/null || true
    for _ in $(seq 50); do [[ -n $(leftovers) ]] || return 0; sleep 0.1; done
    kill -9 $(leftovers) 2>/dev/null || true
}

status() {
    for d in munge/munged mysqld slurmdbd slurmctld slurmd sshd; do
        if [[ -f $STATE/$d.pid ]] && kill -0 "$(cat "$STATE/$d.pid")" 2>/dev/null; then
            echo "${d#*/} running"
        else
            echo "${d#*/} stopped"
        fi
    done
}

case ${1:-} in
    install) install_packages ;;
    start)
        [[ $(id -u) == 0 ]] || { log "must run as root"; exit 1; }
        install_packages
        stop_all
        rm -rf "$STATE/spool" "$STATE/log"
        mkdir -p "$STATE"
        start_munge
        start_mariadb
        write_configs
        start_slurm
        start_sshd
        write_env
        log "cluster up under $STATE (source $STATE/env.sh)"
        ;;
    stop) stop_all; log "stopped" ;;
    status) status ;;
    check-stopped)
        left=$(leftovers)
        [[ -z $left ]] || { log "still running: $(describe $left)"; exit 1; }
        ;;
    *) echo "usage: $0 install|start|stop|status|check-stopped" >&2; exit 2 ;;
esac

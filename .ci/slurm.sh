#!/usr/bin/env bash
# CI: the demo build on a real single-node SLURM must give the same dataset as a local build.
#
# Installs Debian's Slurm and MUNGE if missing, writes /etc/slurm/slurm.conf (the executor plugin's
# job steps drop every SLURM_* variable, so $SLURM_CONF would not reach them), starts munged,
# slurmctld and slurmd without systemd, waits for the node to be idle, then builds the demo corpus
# twice from one config: with `--profile profiles/local` and with `--profile profiles/slurm`.
# The dataset checksums (results/dataset/checksums.sha256) must be identical.
# Needs root (apt-get, daemons). Leaves the daemons it started running only if KEEP_SLURM=1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BIN="$REPO/.venv/bin"
SLURM_PLUGIN="snakemake-executor-plugin-slurm==2.8.0"
DEMO_ARTICLES=${DEMO_ARTICLES:-120}

log() { printf '[slurm.sh %(%H:%M:%S)T] %s\n' -1 "$*"; }

install_packages() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null \
        || ! command -v sinfo >/dev/null || ! command -v slurmd >/dev/null; then
        log "installing slurmctld slurmd slurm-client munge"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >/dev/null
    fi
    if ! "$BIN/python" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
        log "installing $SLURM_PLUGIN into .venv"
        "$BIN/pip" install --quiet --disable-pip-version-check "$SLURM_PLUGIN"
    fi
}

write_config() {
    local cpus mem
    cpus=$(nproc)
    # Leave 1 GB to the OS and the daemons; slurmd refuses a node that claims more than it has.
    mem=$(($(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024))
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    # DefMemPerCPU: without it a job that asks no memory takes the whole node.
    # MinJobAge: squeue (the status command without slurmdbd) must still see finished jobs.
    cat >/etc/slurm/slurm.conf <<EOF
ClusterName=roco-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_daemons() {
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge /etc/munge
        chown munge:munge /run/munge
        if [ ! -s /etc/munge/munge.key ]; then
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
        runuser -u munge -- munged
        STARTED+=(munged)
    fi
    if ! pgrep -x slurmctld >/dev/null; then
        slurmctld
        STARTED+=(slurmctld)
    fi
    if ! pgrep -x slurmd >/dev/null; then
        slurmd -N localhost
        STARTED+=(slurmd)
    fi
    for _ in $(seq 1 120); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
            log "node idle: $(sinfo -h -o '%N %c CPUs %m MB %T')"
            return
        fi
        sleep 0.5
    done
    log "SLURM did not come up"
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log || true
    exit 1
}

stop_daemons() {
    [ "${KEEP_SLURM:-0}" = 1 ] && return
    local daemon pidfile
    for daemon in "${STARTED[@]}"; do
        case $daemon in
            munged) pidfile=/run/munge/munged.pid ;;
            *) pidfile=/run/$daemon.pid ;;
        esac
        [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
}

build() {
    local profile=$1 root=$2
    shift 2
    log "build with --profile profiles/$profile"
    "$BIN/python" - "$REPO/config.yaml" "$root" "$DEMO_ARTICLES" <<'EOF'
import sys
from pathlib import Path

import yaml

config_path, root, articles = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
config = yaml.safe_load(Path(config_path).read_text())
config["results"] = str(root / "results")
config["source"].update(dir=str(root / "demo"), demo_articles=articles)
root.mkdir(parents=True, exist_ok=True)
(root / "config.yaml").write_text(yaml.safe_dump(config))
EOF
    local start=$SECONDS
    if ! (cd "$REPO" && "$BIN/snakemake" --profile "profiles/$profile" --directory "$root" \
        --snakefile "$REPO/Snakefile" --configfile "$root/config.yaml" "$@") \
        >"$root.log" 2>&1; then
        tail -n 80 "$root.log"
        log "FAIL: the build with profiles/$profile failed (last lines above)"
        exit 1
    fi
    log "build with profiles/$profile done in $((SECONDS - start)) s"
}

STARTED=()
WORK=$(mktemp -d /tmp/roco-slurm-ci.XXXXXX)
chmod 755 "$WORK"
trap 'stop_daemons; rm -rf "$WORK"' EXIT

install_packages
write_config
start_daemons

build local "$WORK/local" --cores 2
# Without slurmdbd there is no sacct: job status comes from squeue (hence MinJobAge above).
build slurm "$WORK/slurm" --slurm-status-command squeue --slurm-no-account \
    --slurm-init-seconds-before-status-checks 5 --slurm-logdir "$WORK/slurm-logs" \
    --slurm-keep-successful-logs

if ! diff -u "$WORK/local/results/dataset/checksums.sha256" \
    "$WORK/slurm/results/dataset/checksums.sha256"; then
    log "FAIL: the SLURM build's dataset differs from the local build's"
    exit 1
fi
# Each SLURM job leaves one log (kept by --slurm-keep-successful-logs): proof the jobs ran there.
jobs=$(find "$WORK/slurm-logs" -name '*.log' | wc -l)
[ "$jobs" -gt 0 ] || { log "FAIL: no SLURM job ran"; exit 1; }
find "$WORK/slurm-logs" -name '*.log' -printf '%h\n' | sed 's|.*/||' | sort | uniq -c
log "OK: SLURM and local builds give identical datasets ($(wc -l \
    <"$WORK/local/results/dataset/checksums.sha256") files; $jobs SLURM jobs)"

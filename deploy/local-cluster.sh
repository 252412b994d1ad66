#!/usr/bin/env bash
# deploy/local-cluster.sh: one coordinator and N workers, each a process of its own, on this machine over loopback.
#
#   deploy/local-cluster.sh [--workers N] [coordinator flags: --epochs 3 --run runs/local --batch-size 128 ...]
#
# The maths is that of `./vae train --workers N`, which is simpler and faster (one process, tensors by reference).
# This script runs the cluster path instead (Akka.Cluster membership, the data plane), as on several machines.
# Each process logs to LOG_DIR (default .vae/local-cluster/<time>); the coordinator also prints to this terminal.
# When the coordinator ends, or on Ctrl-C, the workers are stopped: no process outlives the script.
# Environment: COORDINATOR_PORT (4053), DATA_PORT (4054), LOG_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLI_DLL=$ROOT/src/Coordinator/bin/Release/net10.0/vae.dll
# shellcheck source=SCRIPTDIR/../scripts/setup.sh
source "$ROOT/scripts/setup.sh"
note() { printf '\033[1m[local-cluster]\033[0m %s\n' "$*" >&2; }

coordinator_args=("$@")
workers='' data=${VAE_MNIST_DIR:-$ROOT/data/mnist}
for ((i = 0; i < $#; i++)); do
  case "${coordinator_args[i]}" in
    --workers) workers=${coordinator_args[i + 1]:-} ;;
    --workers=*) workers=${coordinator_args[i]#*=} ;;
    --data) data=${coordinator_args[i + 1]:-} ;;
    --data=*) data=${coordinator_args[i]#*=} ;;
  esac
done
if [ -z "$workers" ]; then workers=2 && coordinator_args+=(--workers 2); fi
[[ $workers =~ ^[1-9][0-9]*$ ]] || die "--workers needs a whole number of at least 1, not '$workers'"
port=${COORDINATOR_PORT:-4053} data_port=${DATA_PORT:-4054}
log_dir=${LOG_DIR:-$ROOT/.vae/local-cluster/$(date +%Y%m%d-%H%M%S)}

ensure_dotnet; ensure_tcmalloc
if [ "$data" = "$ROOT/data/mnist" ]; then ensure_mnist "$data"; fi
build_cli
export DOTNET_gcServer=0 DOTNET_TieredPGO=1 VAE_MNIST_DIR=$data
[ -e "$TCMALLOC" ] && export LD_PRELOAD="$TCMALLOC${LD_PRELOAD:+:$LD_PRELOAD}"
mkdir -p "$log_dir"

# The coordinator is stopped first (SIGTERM: it checkpoints and prints how to resume), then the workers;
# whatever has not ended after 15 s is killed.
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
stop_nodes() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 75); do
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && { sleep 0.2; continue 2; }; done
    return 0
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap stop_nodes EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note "Starting the coordinator on 127.0.0.1:$port (data plane $data_port); logs in $log_dir"
dotnet "$CLI_DLL" coordinator --host 127.0.0.1 --public-host 127.0.0.1 --port "$port" --data-port "$data_port" "${coordinator_args[@]}" \
  > >(tee "$log_dir/coordinator.log") 2>&1 &
coordinator=$!
pids+=("$coordinator")
finish() { local rc=0; wait "$coordinator" || rc=$?; exit "$rc"; }

# Workers start once the seed node listens, so that their first join attempt reaches it.
for ((tries = 0; ; tries++)); do
  kill -0 "$coordinator" 2>/dev/null || finish
  (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  [ "$tries" -lt 600 ] || die "the coordinator did not listen on port $port within 2 minutes; see $log_dir/coordinator.log"
  sleep 0.2
done

note "Starting $workers workers"
for ((n = 1; n <= workers; n++)); do
  dotnet "$CLI_DLL" worker --seed "127.0.0.1:$port" --host 127.0.0.1 --public-host 127.0.0.1 --port 0 --data "$data" --name "worker-$n" --workers 1 \
    >"$log_dir/worker-$n.log" 2>&1 &
  pids+=("$!")
done

finish

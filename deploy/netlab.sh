#!/usr/bin/env bash
# deploy/netlab.sh: several "machines" on this one, for trying the cluster across real network stacks. Needs root.
#
#   deploy/netlab.sh up NAME N [--rate RATE] [--owner PID]   N machines NAME-node1..N on a switch of their own
#   deploy/netlab.sh exec NAME NODE CMD [ARGS...]             run CMD on machine NODE (1..N), as a user there would
#   deploy/netlab.sh addr NAME NODE                           that machine's address (10.77.0.<10+NODE>)
#   deploy/netlab.sh link NAME NODE down|up                   pull or plug that machine's cable (its switch port)
#   deploy/netlab.sh rate NAME NODE RATE|off                  limit that machine's link (tc tbf, both directions)
#   deploy/netlab.sh down NAME                                kill everything running in the lab and remove it
#   deploy/netlab.sh prune                                    remove every lab whose --owner process has ended
#   deploy/netlab.sh list | check
#
# A machine is a network namespace (its own interfaces, addresses and ports) plus a mount and a UTS namespace held
# by one small process: its own hostname, its own /dev/shm (so a worker there cannot find the coordinator's shared
# memory) and an /etc/hosts naming every machine of the lab. Files elsewhere (/tmp, the repository) are shared, as
# on machines with a network file system. The machines' cables meet on a bridge in a namespace of its own: no lab
# address appears in this host's own namespace. RATE is what tc takes (1gbit, 100mbit); the kernel here has tbf
# but not netem, so links can be slowed but not delayed.
#
# Example, a coordinator and two workers over 1 Gbit/s links:
#   deploy/netlab.sh up demo 3 --rate 1gbit
#   deploy/netlab.sh exec demo 1 ./vae coordinator --host 10.77.0.11 --workers 2 &
#   deploy/netlab.sh exec demo 2 ./vae worker --seed 10.77.0.11:4053 --host 10.77.0.12 &
#   deploy/netlab.sh exec demo 3 ./vae worker --seed 10.77.0.11:4053 --host 10.77.0.13
#   deploy/netlab.sh down demo
set -euo pipefail

PREFIX=vnl                       # every namespace of every lab starts with this
STATE_ROOT=/run/vae-netlab       # one folder per lab: owner, machine count, hosts file, holder pids
SUBNET=10.77.0                   # each lab has its own switch, so every lab can use the same addresses

die() { echo "netlab: $*" >&2; exit 1; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

switch_ns() { echo "$PREFIX-$1-sw"; }
node_ns() { echo "$PREFIX-$1-$2"; }
state_dir() { echo "$STATE_ROOT/$1"; }
address() { echo "$SUBNET.$((10 + $2))"; }
hostname_of() { echo "$1-node$2"; }

check_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,23}$ ]] || die "lab name '$1': use 1-24 of a-z, 0-9 and -, starting with a letter or digit"
}

nodes_of() {
  local dir
  dir=$(state_dir "$1")
  [ -f "$dir/nodes" ] || die "no lab named '$1' (deploy/netlab.sh list shows the labs)"
  cat "$dir/nodes"
}

check_node() {
  local count
  count=$(nodes_of "$1")
  if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt "$count" ]; then die "lab '$1' has machines 1..$count, not '$2'"; fi
}

# Every namespace of a lab, from /run/netns (so also those of a lab half set up or half removed).
lab_namespaces() {
  ip netns list | awk '{print $1}' | grep -E "^$PREFIX-$1-([0-9]+|sw)\$" || true
}

# Stops a lab's processes by their ids (ip netns pids lists them), then removes its namespaces and state.
# Safe to run on a lab that is partly there or already gone.
lab_down() {
  local name=$1 ns pid left
  local namespaces
  namespaces=$(lab_namespaces "$name")
  for _ in $(seq 50); do
    left=0
    for ns in $namespaces; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
        left=1
      done
    done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for ns in $namespaces; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$(state_dir "$name")"
}

set_rate() {
  local name=$1 node=$2 rate=$3 sw ns
  sw=$(switch_ns "$name")
  ns=$(node_ns "$name" "$node")
  if [ "$rate" = off ]; then
    tc -n "$ns" qdisc del dev eth0 root 2>/dev/null || true
    tc -n "$sw" qdisc del dev "n$node" root 2>/dev/null || true
    return
  fi
  # Both ends: what the machine sends and what it receives each pass one token bucket of RATE.
  tc -n "$ns" qdisc replace dev eth0 root tbf rate "$rate" burst 256kb latency 50ms \
    || die "tc could not limit the link to '$rate' (use a tc rate such as 1gbit or 100mbit)"
  tc -n "$sw" qdisc replace dev "n$node" root tbf rate "$rate" burst 256kb latency 50ms
}

cmd_up() {
  local name=${1:-} count=${2:-} rate='' owner='' i
  if [ -z "$name" ] || [ -z "$count" ]; then usage; fi
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --rate) rate=${2:-}; shift 2 ;;
      --rate=*) rate=${1#*=}; shift ;;
      --owner) owner=${2:-}; shift 2 ;;
      --owner=*) owner=${1#*=}; shift ;;
      *) die "up: unknown option '$1' (--rate RATE, --owner PID)" ;;
    esac
  done
  check_name "$name"
  if ! [[ $count =~ ^[0-9]+$ ]] || [ "$count" -lt 1 ] || [ "$count" -gt 200 ]; then die "machines: a whole number from 1 to 200, not '$count'"; fi
  [ -z "$owner" ] || [[ $owner =~ ^[0-9]+$ ]] || die "--owner takes a process id, not '$owner'"
  local dir sw
  dir=$(state_dir "$name")
  sw=$(switch_ns "$name")
  if [ -e "$dir" ] || [ -n "$(lab_namespaces "$name")" ]; then die "a lab named '$name' exists already (deploy/netlab.sh down $name)"; fi
  mkdir -p "$dir"
  echo "${owner:-}" >"$dir/owner"
  # A failure half-way leaves nothing behind.
  # shellcheck disable=SC2064  # the name is fixed now (it was checked: no quotes in it)
  trap "lab_down '$name'" EXIT

  ip netns add "$sw"
  ip -n "$sw" link add switch type bridge
  ip -n "$sw" link set switch up
  {
    echo "127.0.0.1 localhost"
    for ((i = 1; i <= count; i++)); do echo "$(address "$name" "$i") $(hostname_of "$name" "$i")"; done
  } >"$dir/hosts"
  for ((i = 1; i <= count; i++)); do
    local ns
    ns=$(node_ns "$name" "$i")
    ip netns add "$ns"
    # Both ends are made inside their namespaces: the machine's eth0 never appears in this host's namespace.
    ip link add name eth0 netns "$ns" type veth peer name "n$i" netns "$sw"
    ip -n "$sw" link set "n$i" master switch up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(address "$name" "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    [ -z "$rate" ] || set_rate "$name" "$i" "$rate"
    # The holder keeps the machine's hostname, /dev/shm and /etc/hosts alive for every later exec.
    # shellcheck disable=SC2016  # $1 and $2 belong to the holder's shell
    ip netns exec "$ns" unshare --mount --uts --propagation private -- sh -c '
        mount -t tmpfs -o mode=1777 tmpfs /dev/shm && hostname "$1" && mount --bind "$2" /etc/hosts && exec sleep infinity
      ' holder "$(hostname_of "$name" "$i")" "$dir/hosts" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/holder-$i"
  done
  echo "$count" >"$dir/nodes"
  # Ready when every holder has its hostname set (so exec never sees a half-made machine).
  for ((i = 1; i <= count; i++)); do
    local holder ok=0
    holder=$(cat "$dir/holder-$i")
    for _ in $(seq 100); do
      if [ "$(nsenter --target "$holder" --uts hostname 2>/dev/null)" = "$(hostname_of "$name" "$i")" ]; then ok=1; break; fi
      kill -0 "$holder" 2>/dev/null || break
      sleep 0.05
    done
    [ "$ok" = 1 ] || die "machine $i of lab '$name' did not come up (unshare or mount failed)"
  done
  trap - EXIT
  for ((i = 1; i <= count; i++)); do echo "$(hostname_of "$name" "$i") $(address "$name" "$i")"; done
}

cmd_exec() {
  local name=${1:-} node=${2:-}
  if [ -z "$name" ] || [ -z "$node" ] || [ $# -lt 3 ]; then usage; fi
  shift 2
  check_node "$name" "$node"
  local holder
  holder=$(cat "$(state_dir "$name")/holder-$node")
  kill -0 "$holder" 2>/dev/null || die "machine $node of lab '$name' is gone (deploy/netlab.sh down $name, then up again)"
  # nsenter execs CMD itself: the caller's process id becomes CMD's, so signals reach CMD directly.
  exec nsenter --target "$holder" --net --mount --uts --wd="$PWD" -- "$@"
}

cmd_link() {
  local name=${1:-} node=${2:-} state=${3:-}
  if [ -z "$name" ] || [ -z "$node" ]; then usage; fi
  check_node "$name" "$node"
  case "$state" in up|down) ;; *) die "link: 'down' or 'up', not '$state'" ;; esac
  # The switch's port: the machine keeps its address and sees its carrier go, as when a cable is pulled.
  ip -n "$(switch_ns "$name")" link set "n$node" "$state"
}

cmd_prune() {
  local dir name owner
  for dir in "$STATE_ROOT"/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    owner=$(cat "$dir/owner" 2>/dev/null || true)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
      echo "netlab: removing lab '$name' (its owner, process $owner, has ended)" >&2
      lab_down "$name"
    fi
  done
  # Namespaces of a lab whose state is gone (a down cut short).
  for name in $(ip netns list | awk '{print $1}' | sed -nE "s/^$PREFIX-(.+)-([0-9]+|sw)\$/\\1/p" | sort -u); do
    [ -d "$(state_dir "$name")" ] || lab_down "$name"
  done
}

cmd_list() {
  local dir
  for dir in "$STATE_ROOT"/*/; do
    [ -d "$dir" ] || continue
    echo "$(basename "$dir") machines=$(cat "$dir/nodes" 2>/dev/null || echo '?') owner=$(cat "$dir/owner" 2>/dev/null)"
  done
}

# Says why this machine cannot host a lab, or nothing (exit 0) when it can.
cmd_check() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, bridges and mounts)"
  local tool
  for tool in ip tc unshare nsenter; do command -v "$tool" >/dev/null || die "'$tool' is not installed"; done
  local probe="$PREFIX-check$$-sw"
  ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace here (ip netns add failed)"
  local ok=1
  ip -n "$probe" link add switch type bridge 2>/dev/null || ok=0
  ip netns del "$probe"
  [ "$ok" = 1 ] || die "cannot create a bridge inside a network namespace"
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  up) cmd_check; cmd_up "$@" ;;
  exec) cmd_exec "$@" ;;
  addr) [ $# -eq 2 ] || usage; check_node "$1" "$2"; address "$1" "$2" ;;
  link) cmd_link "$@" ;;
  rate) [ $# -eq 3 ] || usage; check_node "$1" "$2"; set_rate "$1" "$2" "$3" ;;
  down) [ $# -eq 1 ] || usage; check_name "$1"; lab_down "$1" ;;
  prune) cmd_prune ;;
  list) cmd_list ;;
  check) cmd_check ;;
  *) usage ;;
esac

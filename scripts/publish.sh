#!/usr/bin/env bash
# scripts/publish.sh (run as ./vae publish): a self-contained build for linux-x64 that another machine runs with no
# .NET SDK, no repository and no set-up: DIR/vae (a launcher), DIR/lib (the published CLI and .NET runtime, with
# libLibTorchSharp.so's GLIBCXX_3.4.32 need marked weak so it loads on Debian 12's libstdc++), DIR/data/mnist, and
# the same folder as DIR.tar.gz. Needs the .NET SDK and MNIST (fetched as ./vae does); installs no system package.
#
#   ./vae publish [--out DIR]        (default out/vae in the repository)
#
# Everything is made in a temporary folder beside DIR and moved into place at the end: a failed publish leaves
# the previous DIR and DIR.tar.gz as they were.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

usage() { sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

out=$ROOT/out/vae
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ -n "${2:-}" ] || die "--out needs a folder, e.g. --out out/vae"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; [ -n "$out" ] || die "--out needs a folder, e.g. --out out/vae"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "publish takes only --out DIR, not '$1'; see ./vae publish --help" ;;
  esac
done

out=$(realpath -m -- "$out")
name=$(basename -- "$out") parent=$(dirname -- "$out")
# DIR is replaced as a whole, so it must be an earlier publish (or absent), never a folder holding anything else.
is_publish() {
  [ -f "$1/vae" ] && [ -d "$1/lib" ] || return 1
  local entry
  for entry in "$1"/* "$1"/.[!.]*; do
    [ -e "$entry" ] || continue
    case "${entry##*/}" in vae|lib|data) ;; *) return 1 ;; esac
  done
}
if [ -e "$out" ] && ! is_publish "$out"; then
  die "$out exists and is not a published VaeCluster folder; choose another --out or remove it"
fi
[ ! -e "$out.tar.gz" ] || [ -f "$out.tar.gz" ] || die "$out.tar.gz exists and is not a file; choose another --out or remove it"

ensure_dotnet
ensure_mnist "$ROOT/data/mnist"

mkdir -p "$parent" || die "cannot create $parent"
tmp=$(mktemp -d "$parent/.$name.publish.XXXXXX") || die "cannot write in $parent"
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/$name
mkdir -p "$ROOT/.vae" "$stage/data"
log=$ROOT/.vae/publish.log

say "Publishing VaeCluster for linux-x64, self-contained (dotnet publish -c Release; log in .vae/publish.log)..."
dotnet publish "$ROOT/src/Coordinator/VaeCluster.Coordinator.csproj" -c Release -r linux-x64 --self-contained \
  -o "$stage/lib" --nologo -v minimal >"$log" 2>&1 \
  || { grep -E 'error' "$log" | sort -u >&2 || true; die "dotnet publish failed (full log: .vae/publish.log)"; }
# The build step (Directory.Build.targets) says what it did to the published library; no line means it did not run.
grep -qF "$stage/lib/libLibTorchSharp.so" "$log" \
  || die "the published libLibTorchSharp.so was not checked for its GLIBCXX_3.4.32 need (see .vae/publish.log)"

cp "$ROOT/scripts/published/vae" "$stage/vae"
chmod +x "$stage/vae"
cp -rL "$ROOT/data/mnist" "$stage/data/mnist"

say "Packing $name.tar.gz..."
tar -C "$tmp" -czf "$tmp/$name.tar.gz" "$name" || die "tar failed while packing $out.tar.gz"

# Into place: the old publish (if any) is moved aside first and removed with the temporary folder.
[ ! -e "$out" ] || mv "$out" "$tmp/previous"
[ ! -e "$out.tar.gz" ] || mv "$out.tar.gz" "$tmp/previous.tar.gz"
mv "$stage" "$out" && mv "$tmp/$name.tar.gz" "$out.tar.gz"
say "Published $out ($(du -sh "$out" | cut -f1)) and $out.tar.gz ($(du -sh "$out.tar.gz" | cut -f1))."
say "On another linux-x64 machine (Debian 12, Ubuntu 24.04; no .NET needed): tar -xzf $name.tar.gz && $name/vae train"

#!/usr/bin/env bash
# bench/gpu/pack.sh: run HERE (npm and Debian reachable) before a device call. Fills the ignored
# folder .gpu/ with what bench/gpu/run.sh needs on the GPU machine, which has no network and no
# Deno, then checks that the offline path works and that what travels fits the device's 64 MiB.
#
#   .gpu/deno.xz            the Deno 2.9.6 binary (linux x86-64, glibc), xz-compressed (~31 MB)
#   .gpu/deno.sha256        the binary's sha256 (run.sh unpacks again only when it changes)
#   .gpu/deno_dir.tar.xz    a DENO_DIR with only the npm packages the GPU bench imports
#                           (chevrotain, zod; resolved through bench/gpu/offline.json, so not the
#                           repo's whole import map: no onnxruntime-web)
#   .gpu/debs/*.deb         the Vulkan loader and the GL/EGL dispatch libraries (Debian, amd64),
#                           for `dpkg -x` on the GPU machine when it lacks libvulkan.so.1
#
#   bash bench/gpu/pack.sh            (DENO_BIN=/path/to/deno to choose the binary)
#
# Then call the device as bench/gpu/run.sh's header says (carry [".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
DENO_VERSION=2.9.6
G=.gpu
LIMIT_MIB=60 # the device takes 64 MiB; keep a margin
TMP=$(mktemp -d /tmp/hopc-pack.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
say() { echo "pack.sh: $*"; }

grep -qx '/.gpu/' .gitignore || { echo '/.gpu/' >>.gitignore && say "added /.gpu/ to .gitignore"; }
git check-ignore -q "$G/deno.xz" || { say "STOP: $G is not ignored by git"; exit 1; }
mkdir -p "$G/debs"

# 1. The Deno binary (the same version everywhere; x86-64 like the device machine).
is_deno() { [ -x "$1" ] && "$1" --version 2>/dev/null | head -1 | grep -q "^deno $DENO_VERSION "; }
src=${DENO_BIN:-}
if [ -z "$src" ]; then
  for c in "$(command -v deno || true)" /root/.npm/_npx/*/node_modules/@deno/linux-x64-glibc/deno; do
    if [ -n "$c" ] && is_deno "$c"; then src=$(readlink -f "$c") && break; fi
  done
fi
if [ -z "$src" ]; then
  say "fetching @deno/linux-x64-glibc@$DENO_VERSION from npm"
  (cd "$TMP" && npm i --no-save --no-audit --no-fund "@deno/linux-x64-glibc@$DENO_VERSION" >/dev/null)
  src=$TMP/node_modules/@deno/linux-x64-glibc/deno
fi
is_deno "$src" || { say "STOP: $src is not deno $DENO_VERSION"; exit 1; }
file -L "$src" 2>/dev/null | grep -q 'x86-64' || [ "$(uname -m)" = x86_64 ] ||
  { say "STOP: $src is not an x86-64 binary (the device machine is x86-64)"; exit 1; }
sha=$(sha256sum "$src" | cut -d' ' -f1)
if [ -s "$G/deno.xz" ] && [ "$(cat "$G/deno.sha256" 2>/dev/null)" = "$sha" ]; then
  say "deno.xz is up to date ($src)"
else
  say "compressing $src (about a minute)"
  xz -T0 -6 -c "$src" >"$G/deno.xz.tmp"
  mv "$G/deno.xz.tmp" "$G/deno.xz"
  echo "$sha" >"$G/deno.sha256"
fi

# 2. The Vulkan loader (and the GL/EGL dispatch libraries, as the device README lists them).
debs=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
missing=()
for d in "${debs[@]}"; do ls "$G/debs/${d}_"*.deb >/dev/null 2>&1 || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt_opts=()
  if [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ]; then
    mkdir -p /tmp/amd64/partial
    apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${apt_opts[@]}" update >/dev/null
  fi
  say "downloading ${missing[*]}"
  if ! (cd "$G/debs" && apt-get "${apt_opts[@]}" download "${missing[@]}" 2>/dev/null); then
    apt-get "${apt_opts[@]}" update >/dev/null
    (cd "$G/debs" && apt-get "${apt_opts[@]}" download "${missing[@]}")
  fi
fi
ls "$G/debs/libvulkan1_"*.deb >/dev/null || { say "STOP: no libvulkan1 .deb"; exit 1; }

# 3. The npm packages the GPU bench imports, in a DENO_DIR of their own.
entries=(bench/gpu/bench.ts bench/gpu/adapter.ts bench/gpu/report.ts bench/gpu/ref_worker.ts)
DENO_DIR=$TMP/deno_dir "$src" cache --quiet --config bench/gpu/offline.json "${entries[@]}"
tar -C "$TMP/deno_dir" -cJf "$G/deno_dir.tar.xz.tmp" npm
mv "$G/deno_dir.tar.xz.tmp" "$G/deno_dir.tar.xz"
say "npm packages: $(ls "$TMP/deno_dir/npm/registry.npmjs.org" | tr '\n' ' ')"

# 4. The offline path: the packed Deno and cache only, an empty HOME, no network (proxies that
#    refuse), --cached-only, exactly as run.sh runs it.
mkdir -p "$TMP/off/home" "$TMP/off/deno_dir"
xz -dc "$G/deno.xz" >"$TMP/off/deno" && chmod +x "$TMP/off/deno"
tar -C "$TMP/off/deno_dir" -xJf "$G/deno_dir.tar.xz"
offline() {
  env -i PATH=/usr/bin:/bin HOME="$TMP/off/home" DENO_DIR="$TMP/off/deno_dir" \
    XDG_RUNTIME_DIR="$TMP/off" HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    DENO_NO_UPDATE_CHECK=1 "$TMP/off/deno" run -A --no-check --config bench/gpu/offline.json \
    --cached-only "$@"
}
offline bench/gpu/bench.ts --help >/dev/null || { say "STOP: bench.ts does not load offline"; exit 1; }
if offline bench/gpu/adapter.ts --rehearsal >"$TMP/adapter.txt" 2>&1; then
  offline bench/gpu/bench.ts --tiny --maps softmax,topk-softmax --shapes 256x32x4:1 \
    --out "$TMP/off/hopc.json" >"$TMP/bench.txt" 2>&1 ||
    { cat "$TMP/bench.txt"; say "STOP: the offline rehearsal failed"; exit 1; }
  grep -q '"finished": true' "$TMP/off/hopc.json" || { say "STOP: offline run unfinished"; exit 1; }
  offline bench/gpu/report.ts --hopc "$TMP/off/hopc.json" >/dev/null
  say "offline check: bench.ts (2 cells, reference workers), adapter.ts, report.ts ran with no network"
else
  say "offline check: modules load with no network (no WebGPU adapter here to run cells)"
fi

# 5. The size of what travels: tracked and untracked-not-ignored files, plus the carried .gpu.
tree=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null |
  awk '{s += $1} END {print s + 0}')
gpu=$(find "$G" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
total=$((tree + gpu))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
say "sizes: .gpu $(mib "$gpu") ($(cd "$G" && find . -type f -printf '%P %s\n' | tr '\n' ';')" \
  "working tree $(mib "$tree"); total that travels $(mib "$total") (device limit 64 MiB)"
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
  say "STOP: over $LIMIT_MIB MiB: it would not travel"
  exit 1
fi
say 'ready. Device call: command "bash bench/gpu/run.sh", carry [".gpu"], timeout_s 600'

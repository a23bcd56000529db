#!/usr/bin/env bash
# bench/gpu/run.sh: hopc's GPU benchmark and PyTorch beside it, in one call on the lent NVIDIA H200
# (a bare x86-64 Linux machine with PyTorch CUDA, numpy and python3, no network, no Deno).
#
# Before the call, HERE:  bash bench/gpu/pack.sh     (fills the ignored folder .gpu/, ~31 MiB)
# The device call (the `run` tool of the device machine), exactly:
#
#   command:   bash bench/gpu/run.sh
#   carry:     [".gpu"]
#   timeout_s: 600
#
# It writes into $OUT (flat names, 5 files): log.txt (this whole log), adapter.json, hopc.json,
# torch.json, table.md. The whole run is budgeted to end within 8 minutes (see TOTAL_SECONDS).
#
# What it does, in order:
#   1. Deno: $DENO if set, else .gpu/deno.xz unpacked to $WORK, else `deno` on PATH.
#      npm packages: .gpu/deno_dir.tar.xz unpacked to $WORK/deno_dir and used with --cached-only
#      (offline); without it, the default DENO_DIR (which may download).
#   2. Vulkan loader: each .deb of .gpu/debs/ (libvulkan1 and the GL/EGL dispatch libraries)
#      whose library `ldconfig -p` does not know is unpacked into / with `dpkg -x` (as the device
#      README says), then ldconfig runs. If no NVIDIA
#      Vulkan driver manifest is in the usual folders, VK_DRIVER_FILES points at the driver's own
#      (/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json).
#   3. The adapter Deno sees (bench/gpu/adapter.ts): vendor, architecture, device, description.
#      Not an NVIDIA GPU: STOP, exit 3 (after retrying with VK_DRIVER_FILES and with every
#      backend), unless this is a rehearsal.
#   4. hopc: bench/gpu/bench.ts (--max-seconds HOPC_SECONDS) -> hopc.json.
#   5. PyTorch: bench/gpu/torch_bench.py in the time left (at most TORCH_SECONDS) -> torch.json;
#      skipped with a note where python3 or numpy is missing.
#   6. bench/gpu/report.ts: hopc.json + torch.json -> table.md, printed.
#
# Rehearsal (here, Mesa llvmpipe, tiny shapes, seconds): bash bench/gpu/run.sh --rehearsal
# (or HOPC_GPU_REHEARSAL=1): accepts any adapter and passes --tiny to both benchmarks.
#
# Environment: OUT (default a new temp dir), DENO, PYTHON (default python3), WORK (default
# /tmp/hopc-gpu), HOPC_SECONDS, TORCH_SECONDS, TOTAL_SECONDS, HOPC_ARGS and TORCH_ARGS (extra
# arguments, e.g. HOPC_ARGS="--maps softmax").
#
# Exit: 0 when hopc's JSON was written (cells that FAILED their check are in it, marked), 2 bad
# arguments, 3 the adapter check refused, 4 no Deno or hopc wrote no results.
set -u

REHEARSAL=${HOPC_GPU_REHEARSAL:-0}
for a in "$@"; do
  case "$a" in
    --rehearsal) REHEARSAL=1 ;;
    -h | --help)
      sed -n '2,40p' "$0"
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument $a (only --rehearsal)" >&2
      exit 2
      ;;
  esac
done

cd "$(dirname "$0")/../.." || exit 4
ROOT=$PWD
OUT=${OUT:-$(mktemp -d /tmp/hopc-gpu-out.XXXXXX)}
mkdir -p "$OUT"
WORK=${WORK:-/tmp/hopc-gpu}
PYTHON=${PYTHON:-python3}
if [ "$REHEARSAL" = 1 ]; then
  HOPC_SECONDS=${HOPC_SECONDS:-120}
  TORCH_SECONDS=${TORCH_SECONDS:-60}
  TINY=--tiny
else
  HOPC_SECONDS=${HOPC_SECONDS:-240}
  TORCH_SECONDS=${TORCH_SECONDS:-120}
  TINY=
fi
TOTAL_SECONDS=${TOTAL_SECONDS:-450}
START=$(date +%s)

say() { echo "run.sh: [$(($(date +%s) - START))s] $*"; }

unxz_to() { # unxz_to FILE.xz DEST: xz, or Python's lzma where xz is missing
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2"
  else
    "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

untar_xz() { # untar_xz FILE.tar.xz DIR
  if command -v xz >/dev/null 2>&1; then
    tar -C "$2" -xJf "$1"
  else
    "$PYTHON" -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
try:
    t.extractall(sys.argv[2], filter="data")
except TypeError:
    t.extractall(sys.argv[2])' "$1" "$2"
  fi
}

main() {
  say "hopc GPU benchmark; repo $ROOT; OUT=$OUT; rehearsal=$REHEARSAL; $(uname -srm)"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>&1 | sed 's/^/run.sh: nvidia-smi: /'
  mkdir -p "$WORK"

  # 1. Deno and its npm cache.
  local deno=${DENO:-}
  if [ -z "$deno" ] && [ -f .gpu/deno.xz ]; then
    deno=$WORK/deno
    if [ ! -x "$deno" ] || [ "$(cat "$WORK/deno.src" 2>/dev/null)" != "$(cat .gpu/deno.sha256 2>/dev/null)" ]; then
      say "unpacking .gpu/deno.xz"
      unxz_to .gpu/deno.xz "$deno.tmp" && chmod +x "$deno.tmp" && mv "$deno.tmp" "$deno" ||
        { say "STOP: could not unpack .gpu/deno.xz"; return 4; }
      cat .gpu/deno.sha256 >"$WORK/deno.src" 2>/dev/null
    fi
  fi
  if [ -z "$deno" ]; then deno=$(command -v deno || true); fi
  if [ -z "$deno" ] || ! "$deno" --version >/dev/null 2>&1; then
    say "STOP: no Deno: run 'bash bench/gpu/pack.sh' here first (it fills .gpu/), or set DENO"
    return 4
  fi
  local cached=()
  if [ -f .gpu/deno_dir.tar.xz ]; then
    rm -rf "$WORK/deno_dir" && mkdir -p "$WORK/deno_dir"
    untar_xz .gpu/deno_dir.tar.xz "$WORK/deno_dir" || { say "STOP: could not unpack .gpu/deno_dir.tar.xz"; return 4; }
    export DENO_DIR=$WORK/deno_dir
    cached=(--cached-only)
  fi
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK}
  export DENO_NO_UPDATE_CHECK=1
  say "$("$deno" --version | head -1) at $deno; DENO_DIR=${DENO_DIR:-default}${cached[*]:+ (offline, --cached-only)}"
  local run=("$deno" run -A --no-check --config bench/gpu/offline.json "${cached[@]}")

  # 2. The Vulkan loader (and GL/EGL dispatch libraries) where missing, and the driver manifest.
  #    Each .deb is unpacked only if the library it brings is not already known to ldconfig.
  local libs=(libvulkan1:libvulkan.so.1 libegl1:libEGL.so.1 libglvnd0:libGLdispatch.so.0
    libopengl0:libOpenGL.so.0 libgl1:libGL.so.1 libglx0:libGLX.so.0 libgles2:libGLESv2.so.2)
  local unpacked=()
  for pair in "${libs[@]}"; do
    local pkg=${pair%%:*} lib=${pair#*:}
    ldconfig -p 2>/dev/null | grep -qE "[[:space:]]${lib//./\\.}[[:space:]]" && continue
    local deb
    deb=$(ls .gpu/debs/"${pkg}"_*.deb 2>/dev/null | head -1)
    if [ -z "$deb" ] || [ "$(id -u)" != 0 ]; then
      [ "$pkg" = libvulkan1 ] && say "warning: no $lib, and no .gpu/debs/${pkg}_*.deb (or not root)"
      continue
    fi
    dpkg -x "$deb" / && unpacked+=("$pkg") || say "warning: dpkg -x $deb failed"
  done
  if [ ${#unpacked[@]} -gt 0 ]; then
    ldconfig
    say "unpacked into / (dpkg -x): ${unpacked[*]}"
  fi
  local nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ "$REHEARSAL" != 1 ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv_icd" ] &&
    ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=$nv_icd VK_ICD_FILENAMES=$nv_icd
    say "VK_DRIVER_FILES=$nv_icd (no NVIDIA manifest in the usual folders)"
  fi
  local egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [ "$REHEARSAL" != 1 ] && [ -f "$egl" ] && [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
  fi

  say "Vulkan: $(ldconfig -p 2>/dev/null | grep -o 'libvulkan\.so\.1 .*' | head -1 || true);" \
    "manifests: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null | tr '\n' ' ')"

  # 3. The adapter: NVIDIA, or stop.
  if [ "$REHEARSAL" = 1 ]; then
    HOPC_GPU_REHEARSAL=1 timeout -k 5 90 "${run[@]}" bench/gpu/adapter.ts --out "$OUT/adapter.json" --rehearsal ||
      { say "STOP: no WebGPU adapter at all"; return 3; }
  else
    # Vulkan first (what is meant to be measured); then the driver's own manifest; then any backend.
    export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}
    if ! timeout -k 5 90 "${run[@]}" bench/gpu/adapter.ts --out "$OUT/adapter.json"; then
      local ok=0
      if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv_icd" ]; then
        say "retrying with VK_DRIVER_FILES=$nv_icd"
        export VK_DRIVER_FILES=$nv_icd VK_ICD_FILENAMES=$nv_icd
        timeout -k 5 90 "${run[@]}" bench/gpu/adapter.ts --out "$OUT/adapter.json" && ok=1
      fi
      if [ $ok = 0 ]; then
        say "retrying with every WebGPU backend (DENO_WEBGPU_BACKEND unset)"
        unset DENO_WEBGPU_BACKEND
        timeout -k 5 90 "${run[@]}" bench/gpu/adapter.ts --out "$OUT/adapter.json" && ok=1
      fi
      if [ $ok = 0 ]; then
        say "STOP: the WebGPU adapter is not the NVIDIA GPU (see above); nothing was timed." \
          "For a rehearsal on another adapter: HOPC_GPU_REHEARSAL=1 or --rehearsal"
        return 3
      fi
    fi
  fi
  say "WebGPU backend: ${DENO_WEBGPU_BACKEND:-default}${VK_DRIVER_FILES:+; VK_DRIVER_FILES=$VK_DRIVER_FILES}"

  # 4. hopc.
  say "hopc: bench/gpu/bench.ts ${TINY} --max-seconds $HOPC_SECONDS ${HOPC_ARGS:-}"
  # shellcheck disable=SC2086 # HOPC_ARGS and TINY are word lists
  timeout -k 5 $((HOPC_SECONDS + 60)) "${run[@]}" bench/gpu/bench.ts $TINY --out "$OUT/hopc.json" \
    --max-seconds "$HOPC_SECONDS" --check-grace 45 ${HOPC_ARGS:-}
  local hrc=$?
  if [ ! -s "$OUT/hopc.json" ]; then
    say "STOP: hopc wrote no results (exit $hrc)"
    return 4
  fi
  if [ $hrc != 0 ]; then
    if grep -q '"finished": true' "$OUT/hopc.json"; then
      say "note: hopc exited $hrc after finishing (its JSON is complete; WebGPU's exit abort?)"
    else
      say "note: hopc exited $hrc before finishing (timeout 124/137?): its JSON has the cells done"
    fi
  fi

  # 5. PyTorch (or numpy on the CPU), in the time left.
  local torch_args=()
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "note: no $PYTHON: the PyTorch/numpy part is skipped"
  elif ! "$PYTHON" -c "import numpy" >/dev/null 2>&1; then
    say "note: numpy missing: the PyTorch/numpy part is skipped"
  else
    local left=$((TOTAL_SECONDS - ($(date +%s) - START) - 30))
    local tsec=$TORCH_SECONDS
    [ $left -lt "$tsec" ] && tsec=$left
    if [ "$tsec" -lt 20 ]; then
      say "note: only $left s left of TOTAL_SECONDS=$TOTAL_SECONDS: the PyTorch part is skipped"
    else
      say "torch: bench/gpu/torch_bench.py ${TINY} --max-seconds $tsec ${TORCH_ARGS:-}"
      # shellcheck disable=SC2086
      PYTHONUNBUFFERED=1 timeout -k 5 $((tsec + 40)) "$PYTHON" -u bench/gpu/torch_bench.py $TINY \
        --out "$OUT/torch.json" --max-seconds "$tsec" ${TORCH_ARGS:-}
      local trc=$?
      [ $trc != 0 ] && say "note: torch_bench.py exited $trc"
      [ -s "$OUT/torch.json" ] && torch_args=(--torch "$OUT/torch.json")
    fi
  fi

  # 6. The table.
  "${run[@]}" bench/gpu/report.ts --hopc "$OUT/hopc.json" "${torch_args[@]}" --out "$OUT/table.md" ||
    say "note: report.ts failed"
  say "done in $(($(date +%s) - START)) s; files in $OUT:"
  ls -l "$OUT" | sed 's/^/run.sh:   /'
  return 0
}

main 2>&1 | tee "$OUT/log.txt"
exit "${PIPESTATUS[0]}"

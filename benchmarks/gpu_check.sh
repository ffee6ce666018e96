#!/usr/bin/env bash
# The GPU check of pytest-genquality: one script, under 8 minutes on one H100/H200.
#
#   bash benchmarks/gpu_check.sh                       # on a machine with a CUDA GPU
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_IMAGES=64 bash benchmarks/gpu_check.sh   # dry run of the script on a CPU
#
# Parts (each time-boxed with `timeout`; a part whose dependencies are missing is skipped, and
# says so, instead of stopping the script):
#   1. the gpu-marked tests
#   2. the example suites with --gen-device=cuda: --update-refs into a scratch store, then a
#      plain run that must pass against those baselines
#   3. determinism: two processes, same seeds -> bit-identical images (benchmarks/gpu_determinism.py)
#   4. Inception throughput, ours vs pytorch-fid, fp32, images/s (benchmarks/bench_inception.py)
#   4b. the fast path (issue 21): pytorch-fid fp32 vs ours fp32 / bf16 / bf16+compile, images/s in one
#      run on the same device, and the FID deviation of each from ours fp32 on the same images
#      (benchmarks/bench_inception_fast.py; GPU_CHECK_FID_IMAGES images per FID set, default 1024)
#   5. build-ref of GPU_CHECK_IMAGES 64 px PNGs: one process, and under torchrun --nproc-per-node=1;
#      images/s and equality of the two references
#   6. a pytest session of the DDPM example suite under torchrun --nproc-per-node=1
# Figures go to $OUT/gpu_check.txt when OUT is set (and always to stdout); a summary ends it.
# Exit status: 0 when no part failed (skipped parts do not fail it), 1 otherwise.
#
# Environment: a python3 with torch; diffusers and pytorch-fid may be wheels on PYTHONPATH (the
# package itself needs no install: this checkout goes first on PYTHONPATH, and the pytest plugin
# is registered through its entry point if installed, else through PYTEST_PLUGINS).
# GPU_CHECK_TIME_SCALE multiplies every time box (e.g. 4 for a dry run on a slow CPU);
# GPU_CHECK_PARTS (default all) picks parts by name: gpu-tests,examples,determinism,inception,inception-fast,
# build-ref,torchrun-pytest;
# GPU_CHECK_BUDGET (default 450 s) caps all parts together: a part gets at most what is left, and is
# skipped when less than 20 s is.

set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
IMAGES=${GPU_CHECK_IMAGES:-2000}
FID_IMAGES=${GPU_CHECK_FID_IMAGES:-1024}
SCALE=${GPU_CHECK_TIME_SCALE:-1}
PARTS=${GPU_CHECK_PARTS:-all}
BUDGET=$(( ${GPU_CHECK_BUDGET:-450} * SCALE ))   # seconds for all parts together: the script ends within ~8 min
T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
REPORT=${OUT:+$OUT/gpu_check.txt}
REPORT=${REPORT:-$WORK/gpu_check.txt}
[ -n "${OUT:-}" ] && mkdir -p "$OUT"
: > "$REPORT"
SUMMARY=()
FAILED=0
export PYTHONUNBUFFERED=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

say() { echo "$*" | tee -a "$REPORT"; }

# run_part NAME SECONDS COMMAND...: run with a time box, keep the log, record the outcome
run_part() {
  local name=$1 limit=$(( $2 * SCALE )); shift 2
  local log="$WORK/$name.log" start end rc status left
  left=$(( BUDGET - ($(date +%s) - T0) ))
  if [ "$left" -lt 20 ]; then
    skip_part "$name" "out of the ${BUDGET}s budget"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say ""
  say "== $name (time box ${limit}s)"
  start=$(date +%s)
  timeout --kill-after=15 "$limit" "$@" > "$log" 2>&1
  rc=$?
  end=$(date +%s)
  case $rc in
    0) status=PASS ;;
    124|137) status="TIMEOUT after ${limit}s"; FAILED=1 ;;
    *) status="FAIL (exit $rc)"; FAILED=1 ;;
  esac
  tail -n "${TAIL_LINES:-25}" "$log" | tee -a "$REPORT"
  say "-- $name: $status in $((end - start)) s"
  SUMMARY+=("$(printf '%-28s %-22s %5s s' "$name" "$status" "$((end - start))")")
}

skip_part() {
  say ""
  say "== $1: SKIPPED: $2"
  SUMMARY+=("$(printf '%-28s %-22s' "$1" "SKIPPED ($2)")")
}

has_module() { "$PY" -c "import $1" >/dev/null 2>&1; }
wanted() { [ "$PARTS" = all ] || [[ ",$PARTS," == *",$1,"* ]]; }

# ---- environment ------------------------------------------------------------------------------
say "pytest-genquality GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
"$PY" - <<'EOF' 2>&1 | tee -a "$REPORT"
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuda available {torch.cuda.is_available()}")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"  cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB")
EOF
if [ "$DEVICE" != cpu ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  say "WARNING: GPU_CHECK_DEVICE=$DEVICE but CUDA is not available; the device parts will fail (GPU_CHECK_DEVICE=cpu for a dry run)"
fi

# The package from this checkout (first on PYTHONPATH); its pytest plugin through the pytest11 entry
# point when an install provides one (it then loads this checkout's module), else PYTEST_PLUGINS.
# Nothing is pip-installed: the machine's environment is left as it was.
if ! "$PY" - <<'EOF'
import sys
from importlib.metadata import entry_points
sys.exit(0 if any(e.value == "pytest_genquality.plugin" for e in entry_points(group="pytest11")) else 1)
EOF
then
  export PYTEST_PLUGINS=pytest_genquality.plugin
  say "pytest plugin registered through PYTEST_PLUGINS=pytest_genquality.plugin"
fi
say "package: $("$PY" -c 'import pytest_genquality as p; print(p.__file__)' 2>&1)"
for module in diffusers transformers pytorch_fid; do
  has_module "$module" && say "  $module: $("$PY" -c "import $module; print($module.__version__)")" \
                       || say "  $module: not installed"
done

# ---- 1. gpu-marked tests ----------------------------------------------------------------------
if ! wanted gpu-tests; then
  skip_part gpu-tests "not in GPU_CHECK_PARTS"
elif [ "$DEVICE" = cpu ]; then
  skip_part gpu-tests "GPU_CHECK_DEVICE=cpu (they need CUDA)"
elif has_module diffusers; then
  run_part gpu-tests 90 "$PY" -m pytest -p no:cacheprovider -m gpu tests -q -rs
else
  skip_part gpu-tests "diffusers is not installed"
fi

# ---- 2. example suites on the device -----------------------------------------------------------
if ! wanted examples; then
  skip_part examples "not in GPU_CHECK_PARTS"
elif has_module diffusers && has_module transformers; then
  cp -r examples/.genquality "$WORK/store"
  run_part examples-update-refs 120 bash -c "cd examples && '$PY' -m pytest ddpm_suite text_to_image_suite -q \
    --gen-device=$DEVICE --gen-store='$WORK/store' --update-refs"
  run_part examples-check 90 bash -c "cd examples && '$PY' -m pytest ddpm_suite text_to_image_suite -q \
    --gen-device=$DEVICE --gen-store='$WORK/store' --gen-report='$WORK/examples.json'"
else
  skip_part examples "diffusers or transformers is not installed"
fi

# ---- 3. determinism ---------------------------------------------------------------------------
if ! wanted determinism; then
  skip_part determinism "not in GPU_CHECK_PARTS"
elif has_module diffusers; then
  run_part determinism 60 "$PY" benchmarks/gpu_determinism.py --device "$DEVICE"
else
  skip_part determinism "diffusers is not installed"
fi

# ---- 4. Inception throughput vs pytorch-fid ----------------------------------------------------
has_module pytorch_fid || say "note: pytorch-fid is not installed; the throughput part times ours only"
if ! wanted inception; then
  skip_part inception-throughput "not in GPU_CHECK_PARTS"
elif [ "$DEVICE" = cpu ]; then
  run_part inception-throughput 240 "$PY" benchmarks/bench_inception.py --device cpu --images 16 --repeats 1 --sizes 64
else
  run_part inception-throughput 90 "$PY" benchmarks/bench_inception.py --device "$DEVICE" --images 256 --repeats 3 --sizes 299 64
fi

# ---- 4b. fast path: bf16 and bf16+compile vs pytorch-fid fp32, and their FID deviation --------------
if ! wanted inception-fast; then
  skip_part inception-fast "not in GPU_CHECK_PARTS"
elif [ "$DEVICE" = cpu ]; then  # torch.compile of the whole network takes minutes on a CPU: dry run without it
  TAIL_LINES=14 run_part inception-fast 240 "$PY" benchmarks/bench_inception_fast.py --device cpu --images 4 \
    --repeats 1 --size 64 --fid-images 16 --no-compile
else
  TAIL_LINES=14 run_part inception-fast 150 "$PY" benchmarks/bench_inception_fast.py --device "$DEVICE" --images 256 \
    --repeats 3 --size 299 --fid-images "$FID_IMAGES"
fi

# ---- 5. build-ref: one process and torchrun --nproc-per-node=1 ---------------------------------
build_ref() {
  set -eu
  "$PY" benchmarks/bench_build_ref.py make-images "$WORK/real" --images "$IMAGES" --size 64
  "$PY" -c "from pytest_genquality.features import build_random_inception_weights as b; print(b('$WORK/weights', seed=0))"
  local common=(--weights "$WORK/weights/pt_inception-random-seed-0.pth" --gen-device "$DEVICE" --batch-size 128)
  local start end
  start=$(date +%s.%N)
  "$PY" -m pytest_genquality.cli build-ref "$WORK/real" --name one "${common[@]}" --gen-store "$WORK/refs1"
  end=$(date +%s.%N)
  "$PY" -c "print(f'build-ref, one process: {$IMAGES / ($end - $start):.1f} images/s (with start-up)')"
  start=$(date +%s.%N)
  "$PY" -m torch.distributed.run --standalone --nproc-per-node=1 -m pytest_genquality.cli \
    build-ref "$WORK/real" --name one "${common[@]}" --gen-store "$WORK/refs2"
  end=$(date +%s.%N)
  "$PY" -c "print(f'build-ref, torchrun 1 rank: {$IMAGES / ($end - $start):.1f} images/s (with start-up)')"
  "$PY" - "$WORK" <<'EOF'
import sys
import numpy as np
from pytest_genquality.store import Store
work = sys.argv[1]
a, b = Store(f"{work}/refs1").load_reference("one"), Store(f"{work}/refs2").load_reference("one")
same = np.array_equal(a.features, b.features)
rel = float(np.abs(a.sigma - b.sigma).max() / np.abs(a.sigma).max())
print(f"references equal: features {'identical' if same else 'DIFFERENT'}, sigma max rel diff {rel:.1e}")
sys.exit(0 if same and rel < 1e-10 else 1)
EOF
}
export -f build_ref
export PY WORK IMAGES DEVICE
if wanted build-ref; then
  TAIL_LINES=6 run_part build-ref 120 bash -c build_ref
else
  skip_part build-ref "not in GPU_CHECK_PARTS"
fi

# ---- 6. a pytest session under torchrun --------------------------------------------------------
if ! wanted torchrun-pytest; then
  skip_part pytest-under-torchrun "not in GPU_CHECK_PARTS"
elif has_module diffusers && has_module transformers; then
  [ -d "$WORK/store" ] || cp -r examples/.genquality "$WORK/store"
  run_part pytest-under-torchrun 90 bash -c "cd examples && '$PY' -m torch.distributed.run --standalone \
    --nproc-per-node=1 -m pytest ddpm_suite -q --gen-device=$DEVICE --gen-store='$WORK/store'"
else
  skip_part pytest-under-torchrun "diffusers or transformers is not installed"
fi

# ---- summary ----------------------------------------------------------------------------------
say ""
say "== summary ($DEVICE; logs in $WORK)"
for line in "${SUMMARY[@]}"; do say "$line"; done
say "figures:"
grep -h -E "images/s|img/s|px |bit-identical|DIFFERENT|references equal|vs CPU|passed|failed|ours |pytorch-fid fp32" "$WORK"/*.log 2>/dev/null \
  | grep -v -E "^\s*$" | sed 's/^/  /' | tee -a "$REPORT" >/dev/null
grep -h -E "images/s|img/s|px |bit-identical|DIFFERENT|references equal|vs CPU" "$WORK"/*.log 2>/dev/null | sed 's/^/  /'
[ $FAILED -eq 0 ] && say "GPU CHECK: OK" || say "GPU CHECK: SOME PARTS FAILED"
exit $FAILED

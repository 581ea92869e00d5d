#!/usr/bin/env bash
# One prepared GPU session (issues 14, 16), about 8 minutes: the CUDA tests; three training runs sharing
# the GPU for TRAIN_S seconds of steps each (the shipped DE-GAP grown by a noise input on the broad world
# of B, masks and noise; DE-GAP-FFDNet, the noise-conditioned denoiser through the fixed point; and the
# denoiser itself: resources/train/degap-gpu-{noise,sigma,denoiser}.yaml, sized to the
# budget by a timed probe); the benchmark of the shipped model (with the K=300 stability runs) and
# of each run's best model (without), one at a time so the timings are the GPU's alone; the
# training-memory benchmark. What it keeps goes to
# $OUT, at most 8 files: session.log, train-logs.jsonl, benches.json and each run's best model.
#
# Here, first:   python tools/device/pack_data.py      (.devdata: the data, git-ignored, < 64 MiB with the tree)
# Device tool:   run(command="bash tools/device/session.sh", carry=[".devdata"], timeout_s=600); about 8 min
# Dry run here:  DRY_RUN=1 bash tools/device/session.sh    (CPU, tiny nets and budgets, about 3 min)
set -uo pipefail
OUT=${OUT:-/tmp/sci-device-out}
DEVICE=${DEVICE:-cuda}
TRAIN_S=${TRAIN_S:-200}
PY=${PY:-python3}
CONFIG_DIR=${CONFIG_DIR:-resources/train}
CONFIGS=${CONFIGS:-"degap-gpu-noise degap-gpu-sigma degap-gpu-denoiser"}
BENCH_ARGS=${BENCH_ARGS:-}
WORK=${WORK:-/tmp/sci-device-work}
rm -rf "$WORK"  # a warm machine keeps /tmp between calls: no stale run folders
mkdir -p "$OUT" "$WORK"
if [ -n "${DRY_RUN:-}" ]; then
    DEVICE=cpu TRAIN_S=10 BENCH_ARGS="--scenes drop40 --max-iter 3 --no-stability"
    "$PY" tools/device/fit_steps.py tiny $(for c in $CONFIGS; do echo "$CONFIG_DIR/$c.yaml"; done) --dir "$WORK/tiny"
    CONFIG_DIR=$WORK/tiny
fi
export SCI_DATA_DIR=${SCI_DATA_DIR:-$PWD/.devdata} PYTHONPATH=$PWD PYTHONUNBUFFERED=1
CLI=("$PY" -m sci_viewer.cli)
step() { echo; echo "=== $(date -u +%T) $*"; }
paths() { for c in $CONFIGS; do echo "$1/$c$2"; done; }

gather() {  # what to keep, into $OUT (at most 8 files come back)
"$PY" - "$WORK" "$OUT" $CONFIGS <<'EOF'
import json, shutil, sys
from pathlib import Path
work, out, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
benches = {p.stem: json.loads(p.read_text()) for p in sorted(work.glob("bench-*.json"))}
(out / "benches.json").write_text(json.dumps(benches, indent=1))
with open(out / "train-logs.jsonl", "w") as fh:
    for n in names:
        log = work / n / "log.jsonl"
        for line in log.read_text().splitlines() if log.exists() else []:
            fh.write(json.dumps({"run": n, **json.loads(line)}) + "\n")
        if (work / n / "best.pt").exists():
            shutil.copy(work / n / "best.pt", out / f"{n}.pt")
print("kept:", sorted(p.name for p in out.iterdir()))
EOF
}

main() {
step "machine"
nvidia-smi -L 2>/dev/null; "$PY" -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, \
'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
ls "$SCI_DATA_DIR" >/dev/null || { echo "no data at $SCI_DATA_DIR: run tools/device/pack_data.py and carry .devdata"; exit 2; }

step "CUDA tests"
timeout 90 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py

step "probe: 20 steps of each stage, all runs at once"
"$PY" tools/device/fit_steps.py probe $(paths "$CONFIG_DIR" .yaml) --dir "$WORK"
for c in $CONFIGS; do
    timeout 90 "${CLI[@]}" train --config "$WORK/$c.probe.yaml" --out "$WORK/$c.probe" --device "$DEVICE" --quiet &
done
wait
if ! "$PY" tools/device/fit_steps.py fit $(paths "$CONFIG_DIR" .yaml) --dir "$WORK" --seconds "$TRAIN_S"; then
    echo "probe failed: training with the configs' own step counts"
    for c in $CONFIGS; do cp "$CONFIG_DIR/$c.yaml" "$WORK/$c.yaml"; done
fi

step "training, $TRAIN_S s of steps each, all runs at once"
for c in $CONFIGS; do
    # SIGTERM: the trainer saves and stops; the models validated so far are kept
    timeout -k 20 $((TRAIN_S + 60)) "${CLI[@]}" train --config "$WORK/$c.yaml" --out "$WORK/$c" --device "$DEVICE" --quiet &
done
wait
for c in $CONFIGS; do
    echo "$c: best validation:"
    "$PY" -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if 'val_psnr' in l]; \
print(json.dumps(max(r,key=lambda x:x['val_psnr'])) if r else 'none')" "$WORK/$c/log.jsonl"
done
gather

# one at a time, so that the timings are not shared with another process
step "benchmark of the shipped model on $DEVICE"
timeout 120 "${CLI[@]}" bench de-gap --device "$DEVICE" $BENCH_ARGS --json "$WORK/bench-shipped.json"
for c in $CONFIGS; do
    step "benchmark of $c's best model on $DEVICE"
    flag=--model; [[ $c == *denoiser* ]] && flag=--pnp-model  # a Gaussian denoiser: PnP-GAP's model
    [ -f "$WORK/$c/best.pt" ] && timeout 60 "${CLI[@]}" bench de-gap --device "$DEVICE" --no-stability \
        $flag "$WORK/$c/best.pt" $BENCH_ARGS --json "$WORK/bench-$c.json"
done
gather

step "training memory on $DEVICE (10 vs 100 forward iterations)"
timeout 45 "${CLI[@]}" bench train-memory --device "$DEVICE"
step "done"
}
main 2>&1 | tee "$OUT/session.log"

#!/usr/bin/env bash
# The GPU checks of the WideResNet pipeline in one prepared run (~8 min on one H100), for a
# machine whose python3 already has a CUDA torch, tqdm, scipy and scikit-learn (papermill and
# plotly are not needed: the notebooks' training is this same trainer).
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # logs go to OUT_DIR (default runs/gpu_check)
# 1. step throughput, fp32 eager vs bf16 + channels_last, then with torch.compile (goal >= 3x);
# 2. two real epochs of WRN-34-10 PGD-10 on 50 000 written images, with the host syncs counted
#    (goal <= 60 s per epoch on one H100; the first epoch includes cudnn autotuning);
# 3. a short end-to-end CLI run (train, PGD-20 evaluation, checkpoints, results.json) on CUDA.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${1:-runs/gpu_check}"
mkdir -p "$out"
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
$py benchmarks/wrn_throughput.py --iters 10 --repeat 2 2>&1 | tee "$out/throughput.txt"
$py benchmarks/wrn_throughput.py --iters 10 --repeat 2 --compile 2>&1 | tee "$out/throughput_compile.txt"
$py benchmarks/wrn_epoch.py --epochs 2 2>&1 | tee "$out/epoch.txt"
data="$out/cifar_standin"
$py -c "from advexplore.gpu import write_smoke_cifar; write_smoke_cifar('$data', 5000, 1000)"
$py -m advexplore.gpu --data-dir "$data" --out-dir "$out/cli_run" --depth 34 --widen-factor 10 \
    --norm linf --eps 0.0313725 --epochs 2 --eval-subset 500 --progress false 2>&1 | tail -n 5 | tee "$out/cli.txt"
ls -l "$out/cli_run" | tee -a "$out/cli.txt"

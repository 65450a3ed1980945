#!/usr/bin/env bash
# Every GPU figure of the package in one command that fits a short GPU lease (at most 10 minutes): the labeler speed,
# SegFormer training throughput in both regimes and AllSpark next to it with peak memory. Each step has its own time
# limit, so a slow one cannot eat the others; logs and JSON go to $OUT (the device tool brings them back) or bench/out.
#
# Here, once:  bash bench/gpu_wheels.sh     (fastai and what it imports, which the device image lacks, into .whl/)
# Device:      run(command="bash bench/gpu_session.sh", carry=[".whl"], timeout_s=580)
# Smoke test anywhere (tiny models, CPU is fine):  bash bench/gpu_session.sh --tiny
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ] && ! python3 -c 'import fastai' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
tiny=(); [ "${1:-}" = --tiny ] && tiny=(--tiny)
short=(); [ "${1:-}" = --tiny ] && short=(--steps 2 --warmup 1)
step() { # name, seconds, command...: run it with a limit, log to $out/name.log
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit} s)"; local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$out/$name.log"; local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi";
  python3 -c 'import torch, transformers, fastai; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "fastai", fastai.__version__)'; } | tee "$out/env.txt"
# labelers: Sam3Labeler at full size (random init), bf16, 21 VOC classes, next to the naive loop; cache size and shares
step labelers 130 python3 bench/labelers.py "${tiny[@]}" --bs 8 --images 64 --naive-images 4 --json "$out/labelers.json"
# training: every eager variant first (paper-faithful regime, Learner, AllSpark with peak memory, throughput
# regime), then the torch.compile ones, which spend most of their time compiling: the Learner's first (the goal's
# path), each variant's figure is written as soon as it is measured, so a step cut short keeps what it finished
eager=plain_fp32,plain_bf16,plain_bf16_fused,plain_stage2_bf16_fused,learner_stage1_mem,learner_stage2_mem,\
learner_stage1_disk,learner_stage2_disk,plain_allspark_bf16_fused,learner_allspark_stage1_mem,\
learner_allspark_stage2_mem,plain_bf16_fused_bs32,plain_bf16_fused_bs64,learner_stage1_mem_bs32
step train_eager 180 python3 bench/train_throughput.py "${tiny[@]}" "${short[@]}" --only "$eager" --out "$out/train_eager.json"
[ ${#tiny[@]} -eq 0 ] &&  # (train_throughput.py leaves compilation out of --tiny CPU runs)
  step train_compile 220 python3 bench/train_throughput.py --only learner_stage1_mem_compile,plain_bf16_fused_compile,\
learner_stage1_mem_cudagraphs,learner_stage2_mem_compile,plain_bf16_fused_compile_bs32 --out "$out/train_compile.json"
ls -l "$out"

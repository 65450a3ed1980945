#!/usr/bin/env python
"""Training throughput (images/s) of SegFormer Stage I and Stage II: the project's Learner next to plain PyTorch loops.

One script runs every variant in one process (one short GPU lease), each for `--warmup` + `--steps`
optimiser steps on 512x512 crops of SegFormer-B5 (random init: speed does not depend on the weights), and prints and
writes a JSON table. Variants:

paper-faithful regime, 4 images per optimiser step
- `plain_fp32`, `plain_bf16`, `plain_bf16_fused`, `plain_bf16_fused_compile`: a plain transformers/PyTorch loop on
  device-resident random batches (no data loading), Stage I step.
- `plain_stage2_bf16_fused`: the same with Stage II's step (no-grad pass on the 2 unlabeled images, Eq. 5 loss).
- `learner_stage1_mem`, `learner_stage2_mem`: `conformalsam.learner.semi_learner` (fastai Learner, `SelfReliance`,
  `SegCrossEntropy`, `MeanIoU`, bf16 `MixedPrecision`, fused SGD, poly `ParamScheduler`) on in-memory batches: the cost
  of the training loop itself.
- `learner_stage1_disk`, `learner_stage2_disk`: the same Learner on `semi_loaders` over a synthetic dataset written to
  disk (JPEG/PNG decoding, AllSpark's augmentation, normalisation): whether the loader keeps up.
- `learner_stage1_mem_compile`, `learner_stage2_mem_compile`, `learner_stage1_mem_cudagraphs`: the in-memory Learner
  with `semi_learner(compile=True)` / `compile='reduce-overhead'` (torch.compile with CUDA graphs), next to
  `plain_bf16_fused_compile`.

AllSpark (`conformalsam.allspark`, `TrainConfig(arch='allspark')`), 2 labeled + 2 unlabeled images per step, the semantic
memory on (its steady state from AllSpark's epoch 5), next to the SegFormer variants above
- `plain_allspark_bf16_fused`: AllSpark's own step in a plain loop (no-grad pass on the unlabeled half, handed to the
  model for its channel grouping; training forward; `(L_x + L_u) / 2`): compare with `plain_stage2_bf16_fused`.
- `learner_allspark_stage1_mem`: ConformalSAM(AllSpark) Stage I through the Learner (given unlabeled targets; the model
  makes its grouping pass itself): compare with `learner_stage1_mem`.
- `learner_allspark_stage2_mem`: AllSpark = ConformalSAM(AllSpark) Stage II through the Learner: compare with
  `learner_stage2_mem`.

On CUDA every variant also reports its peak memory (`torch.cuda.max_memory_allocated`, GiB) in `peak_mem_gib`, and
the host-device synchronisations of two untimed steps after the warm-up (CUDA's sync debug mode): `syncs_per_step` and
`sync_sites` (the Python lines that synchronised, most frequent first), which tell whether the CPU can run ahead.

throughput regime (opt-in, a deviation from the paper: larger batch, learning rate scaled)
- `plain_bf16_fused_bs32`, `plain_bf16_fused_bs64`, `plain_bf16_fused_compile_bs32`; `learner_stage1_mem_bs32`: the
  Learner at 32 images per step, as `TrainConfig(bs=32, lr_scale='linear', warmup=1)` trains.

`--tiny` runs everything with a tiny SegFormer on 64x64 crops, on CPU if there is no GPU: a smoke test of the script.
`--profile` adds a torch.profiler table of the plain bf16 Stage I step.

    python bench/train_throughput.py --out bench/train_throughput.json        # on a GPU
    python bench/train_throughput.py --tiny --steps 3 --warmup 1              # smoke test anywhere
"""
import argparse, json, os, sys, tempfile, time, warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import conformalsam  # first: it imports fastai without torch.jit's deprecation note (see its __init__)
from fastai.callback.core import Callback, CancelFitException
from fastai.data.core import DataLoaders

from conformalsam.core import atomic_write, seed_everything
from conformalsam.allspark import allspark
from conformalsam.model import segformer
from conformalsam.loaders import Augment, SemiDL, semi_loaders
from conformalsam.losses import SelfReliance, sr_weight
from conformalsam.learner import semi_learner
from conformalsam.testing import tiny_segformer_config

K = 21  # VOC classes


def make_model(tiny, arch='segformer', size=512):
    "SegFormer-B5 (or a tiny one); `arch='allspark'`: AllSpark on it for `size` crops, memory on from the first epoch."
    cfg = tiny_segformer_config(16) if tiny else 'b5'
    if arch == 'allspark':
        model = allspark(K, cfg, pretrained=None, crop=size, smem_epoch=0)
        model.set_epoch(0)
        return model
    return segformer(K, cfg, pretrained=None)


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


class SyncCounter:
    "Host-device synchronisations between `start()` and `stop()` on CUDA (sync debug mode), by Python line."
    def __init__(self, dev): self.on, self.sites, self.steps = dev.type == 'cuda', Counter(), 0
    def start(self):
        if not self.on: return
        self._cw = warnings.catch_warnings(record=True)
        self._log = self._cw.__enter__(); warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
    def stop(self, steps):
        if not self.on: return
        torch.cuda.set_sync_debug_mode('default'); self._cw.__exit__(None, None, None)
        self.steps = steps
        self.sites.update(f"{'/'.join(Path(w.filename).parts[-2:])}:{w.lineno}" for w in self._log
                          if 'synchroniz' in str(w.message))
    def result(self):
        if not self.on or not self.steps: return None, None
        return sum(self.sites.values()) / self.steps, dict(self.sites.most_common(6))


def bench_plain(args, dev, bs, bf16=False, fused=False, compile=False, stage2=False, arch='segformer'):
    "Plain loop: forward, CE (ignore 255), backward, SGD step; Stage II adds the no-grad pass and Eq. 5."
    model = make_model(args.tiny, arch, args.size).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=3e-3, momentum=0.9, weight_decay=1e-4,
                          **({'fused': True} if fused and dev.type == 'cuda' else {}))
    fwd = torch.compile(model) if compile else model
    x = torch.randn(bs, 3, args.size, args.size, device=dev)
    y = torch.randint(0, K, (bs, args.size, args.size), device=dev)
    lam, h = float(sr_weight(60, 60)), bs // 2  # 0.5: also AllSpark's (L_x + L_u) / 2
    ctx = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if bf16 else torch.enable_grad

    def step():
        with ctx():
            if stage2:
                model.eval()
                with torch.no_grad(): logits = fwd(x[h:])
                model.train()
                if arch == 'allspark': model.set_unlabeled_logits(logits)  # its channel grouping reuses the pass
                pseudo = logits.argmax(1)
                out = fwd(x)
                loss = (1 - lam) * F.cross_entropy(out[:h].float(), y[:h], ignore_index=255) + \
                       lam * F.cross_entropy(out[h:].float(), pseudo, ignore_index=255)
            else: loss = F.cross_entropy(fwd(x).float(), y, ignore_index=255)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup): step()
    syncs = SyncCounter(dev); syncs.start()
    for _ in range(2): step()
    syncs.stop(2)
    sync(dev); t = time.perf_counter()
    for _ in range(args.steps): step()
    sync(dev)
    return bs * args.steps / (time.perf_counter() - t), syncs


class _Timer(Callback):
    "Time `steps` training iterations after `warmup` (count the syncs of the last two warm-up ones), then stop the fit."
    order = 100
    def __init__(self, warmup, steps, dev):
        self.warmup, self.steps, self.dev, self.rate, self.syncs = warmup, steps, dev, None, SyncCounter(dev)
    def before_batch(self):
        if not self.training: return
        if self.iter == self.warmup - 2 and self.iter > 0: self.syncs.start()
        if self.iter == self.warmup:
            if self.warmup > 2: self.syncs.stop(2)
            sync(self.dev); self.t, self.n = time.perf_counter(), 0
    def after_batch(self):
        if not self.training or self.iter < self.warmup: return
        self.n += len(self.xb[0])
        if self.iter == self.warmup + self.steps - 1:
            sync(self.dev); self.rate = self.n / (time.perf_counter() - self.t)
            raise CancelFitException()


def _mem_dls(args, dev, n_iter, paired=False, bs=4):
    "Stage I / valid / Stage II loaders over in-memory normalised random images (no decoding, no augmentation)."
    nu = (n_iter + 1) * bs
    g = torch.Generator().manual_seed(0)
    items = [(torch.randn(3, args.size, args.size, generator=g), torch.randint(0, K, (args.size, args.size), generator=g))
             for _ in range(8)]
    ds = [items[i % 8] for i in range(nu + 4)]
    s1 = SemiDL(ds, n_labeled=4, bs=bs, device=dev, batches='paired' if paired else 'mixed')
    return DataLoaders(s1, SemiDL(items[:4], bs=1, device=dev), s1.new(batches='paired'), device=dev)


def _disk_dls(args, dev, n_iter, work):
    from conformalsam.data import make_synthetic, open_dataset
    n_train = 2 * n_iter + 8
    root = make_synthetic(work/'synth', n_train=n_train, n_val=2, size=args.size, num_classes=K, seed=0, ratios=(8,))
    lab = open_dataset(root, root/'splits/1_8/labeled.txt')
    unl = open_dataset(root, root/'splits/1_8/unlabeled.txt')
    val = open_dataset(root, root/'splits/val.txt')
    pseudo = root/'VOCdevkit/VOC2012/SegmentationClass'  # the GT masks stand in for pseudo-masks here
    nw = args.workers if args.workers is not None else min(16, os.cpu_count())
    return semi_loaders(lab, val, unl, pseudo, bs=4, aug=Augment(args.size), num_workers=nw, device=dev)


def bench_learner(args, dev, stage, data, work, arch='segformer', compile=False, bs=4):
    n_iter = args.warmup + args.steps
    dls = _mem_dls(args, dev, n_iter, arch == 'allspark', bs) if data == 'mem' else _disk_dls(args, dev, n_iter, work)
    timer = _Timer(args.warmup, args.steps, dev)
    learn = semi_learner(dls, make_model(args.tiny, arch, args.size), stage2=SelfReliance(0) if stage == 2 else None,
                         cbs=timer, compile=compile)
    learn.model.to(dev)
    with learn.no_bar(), learn.no_logging(): learn.fit_poly(1)
    return timer.rate, timer.syncs


def profile(args, dev):
    from torch.profiler import profile as tprofile, ProfilerActivity
    model = make_model(args.tiny).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=3e-3, momentum=0.9)
    x = torch.randn(4, 3, args.size, args.size, device=dev); y = torch.randint(0, K, (4, args.size, args.size), device=dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
    with tprofile(activities=acts) as prof:
        for _ in range(3):
            with torch.autocast(dev.type, dtype=torch.bfloat16): loss = F.cross_entropy(model(x).float(), y)
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        sync(dev)
    key = 'self_cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
    return prof.key_averages().table(sort_by=key, row_limit=20)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--tiny', action='store_true', help='tiny SegFormer on 64x64 crops (smoke test, CPU is fine)')
    p.add_argument('--steps', type=int, default=30, help='timed optimiser steps per variant')
    p.add_argument('--warmup', type=int, default=10, help='untimed steps first (compilation, cudnn autotuning)')
    p.add_argument('--only', default=None, help='comma-separated variant names to run (default: all)')
    p.add_argument('--workers', type=int, default=None, help='loader processes for the *_disk variants')
    p.add_argument('--profile', action='store_true', help='print a profiler table of the plain bf16 step')
    p.add_argument('--out', default=None, help='write the results as JSON here')
    args = p.parse_args(argv)
    args.size = 64 if args.tiny else 512
    dev = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True; torch.backends.cuda.matmul.allow_tf32 = True
    seed_everything(0)
    work = Path(tempfile.mkdtemp())
    variants = {
        'plain_fp32': lambda: bench_plain(args, dev, 4),
        'plain_bf16': lambda: bench_plain(args, dev, 4, bf16=True),
        'plain_bf16_fused': lambda: bench_plain(args, dev, 4, bf16=True, fused=True),
        'plain_bf16_fused_compile': lambda: bench_plain(args, dev, 4, bf16=True, fused=True, compile=True),
        'plain_stage2_bf16_fused': lambda: bench_plain(args, dev, 4, bf16=True, fused=True, stage2=True),
        'learner_stage1_mem': lambda: bench_learner(args, dev, 1, 'mem', work),
        'learner_stage2_mem': lambda: bench_learner(args, dev, 2, 'mem', work),
        'learner_stage1_disk': lambda: bench_learner(args, dev, 1, 'disk', work),
        'learner_stage2_disk': lambda: bench_learner(args, dev, 2, 'disk', work),
        'learner_stage1_mem_compile': lambda: bench_learner(args, dev, 1, 'mem', work, compile=True),
        'learner_stage2_mem_compile': lambda: bench_learner(args, dev, 2, 'mem', work, compile=True),
        'learner_stage1_mem_cudagraphs': lambda: bench_learner(args, dev, 1, 'mem', work, compile='reduce-overhead'),
        'plain_allspark_bf16_fused': lambda: bench_plain(args, dev, 4, bf16=True, fused=True, stage2=True, arch='allspark'),
        'learner_allspark_stage1_mem': lambda: bench_learner(args, dev, 1, 'mem', work, arch='allspark'),
        'learner_allspark_stage2_mem': lambda: bench_learner(args, dev, 2, 'mem', work, arch='allspark'),
        'plain_bf16_fused_bs32': lambda: bench_plain(args, dev, 32, bf16=True, fused=True),
        'plain_bf16_fused_bs64': lambda: bench_plain(args, dev, 64, bf16=True, fused=True),
        'learner_stage1_mem_bs32': lambda: bench_learner(args, dev, 1, 'mem', work, bs=32),
        'plain_bf16_fused_compile_bs32': lambda: bench_plain(args, dev, 32, bf16=True, fused=True, compile=True),
    }
    if args.tiny and dev.type == 'cpu':  # compilation needs a C++ toolchain and takes minutes on CPU: skipped
        for k in [k for k in variants if 'compile' in k or 'cudagraphs' in k]: del variants[k]
    names = args.only.split(',') if args.only else list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown: p.error(f"unknown variants {unknown}; expected some of {list(variants)}")
    res = dict(device=torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu', tiny=args.tiny, size=args.size,
               steps=args.steps, warmup=args.warmup, torch=torch.__version__, img_per_s={}, peak_mem_gib={},
               syncs_per_step={}, sync_sites={})
    for n in names:
        t = time.perf_counter()
        if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        try:
            rate, syncs = variants[n]()
            res['img_per_s'][n] = round(rate, 2)
            res['syncs_per_step'][n], res['sync_sites'][n] = syncs.result()
        except Exception as e: res['img_per_s'][n] = f"failed: {type(e).__name__}: {e}"[:300]
        mem = round(torch.cuda.max_memory_allocated() / 2**30, 2) if dev.type == 'cuda' else None
        res['peak_mem_gib'][n] = mem
        print(f"{n:32s} {res['img_per_s'][n]!s:>10} img/s   peak {mem} GiB   syncs/step {res['syncs_per_step'].get(n)}   "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
        if args.out: atomic_write(Path(args.out), lambda f: f.write_text(json.dumps(res, indent=1)))  # kept if a later one hangs
    if args.profile: res['profile'] = profile(args, dev); print(res['profile'])
    if args.out: atomic_write(Path(args.out), lambda f: f.write_text(json.dumps(res, indent=1)))
    return res


if __name__ == '__main__': main()

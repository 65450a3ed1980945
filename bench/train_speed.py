#!/usr/bin/env python
"""Where the seconds of one training run on the embedded synthetic benchmark go, per candidate setting, on the CPU.

The README's main job trains every method (label-only, self-training, labeler-raw, labeler-raw+sr, cp, cp+sr) on
several seeds; this script says what one epoch of each kind costs and what label-only reaches, so that a setting can
be chosen that fits the time budget. For each setting (scene size, crop, batch, encoder, training images, loader
processes) it

1. writes the synthetic dataset (`make_synthetic`, VOC layout) and times that;
2. builds the project's loaders and `Learner` (`semi_loaders`, `semi_learner`, `segformer`) and times one epoch of each
   kind with a callback that splits it into
   - `data`: waiting for the next batch (decoding, `SegAugment`, collation, normalisation),
   - `fwd`, `loss`, `bwd`, `step`: the model's forward pass, the loss, the backward pass, the optimiser step
     (Stage II's `fwd` includes its no-grad pass over the unlabeled half),
   - `valid`: the whole validation pass (its data, forward and metric),
   - `other`: the rest of the epoch, i.e. fastai's callbacks (recorder, scheduler, metric, checkpoint) and loop;
   the kinds are the label-only epoch (a pass over the labeled images), the Stage I epoch (labeled GT + unlabeled
   pseudo-masks, one pass over the unlabeled images; the ground truth stands in for the pseudo-masks, which costs the
   same) and the Stage II epoch (2 + 2 batches, the model's own pseudo-labels);
3. times `plain` = the same Stage I batches through a bare PyTorch loop (forward, loss, backward, SGD step, no fastai,
   batches already in memory): the floor that the model itself sets;
4. runs `conformalsam.train.train` label-only for `--epochs` epochs (split `--split`), as the experiments call it, and
   reports its validation mIoU, its wall time and its time outside `fit` (`setup`: datasets, model, final save);
5. estimates the main job: `--seeds` x (label-only + self-training + 2 Stage I methods + 2 methods switching to Stage II
   at `--sr_frac` of the run), from the measured epochs.

Every timing is repeated `--repeat` times; the table shows the median and, in `spread`, (max - min) / median of the
Stage I epoch. The machine may be shared: run it on an idle machine, or read the spread.

    python bench/train_speed.py                                   # the default grid (about 15 minutes)
    python bench/train_speed.py --grid size=48,bs=8,variant=tiny size=48,bs=8,variant=tiny,workers=2
    python bench/train_speed.py --quick                           # a smoke test of the script (seconds)
    python bench/train_speed.py --splits 1_16 1_8 1_4 1_2 --grid pretrained=none pretrained=synthetic   # mIoU table

A setting is `key=value` pairs: size (scene side), crop (training crop; default the scene side), bs, variant
(`SEGFORMER_VARIANTS` key), pretrained ('synthetic' for `conformalsam.model.SYNTHETIC_ENCODER`, 'none', or a folder),
n_train, n_val, classes (K), workers, lr, head_lr_mult, epochs, threads (torch threads), lo_match (1: label-only runs as
many optimiser steps as a Stage I run of `epochs` epochs at the same split; 0: `epochs` epochs, and its epoch is a pass
over the labeled images only, 6 times fewer steps at split 1_4), final_valid (1: the label-only runs validate after the
last epoch only, and the main-job estimate counts one validation per run).
"""
import argparse, contextlib, io, json, os, shutil, statistics, sys, tempfile, time, warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import conformalsam  # first: it imports fastai without torch.jit's deprecation note (see its __init__)
from fastai.callback.core import Callback, CancelValidException

from transformers.utils import logging as hf_logging
from conformalsam.data import SplitData, make_synthetic, open_dataset
from conformalsam.model import segformer, SYNTHETIC_ENCODER
from conformalsam.loaders import Augment, semi_loaders
from conformalsam.learner import SGDConfig, semi_learner
from conformalsam.losses import SelfReliance
from conformalsam.checkpoints import Checkpoint
from conformalsam.train import TrainConfig, train

DEFAULT = dict(size=48, crop=None, bs=8, variant='tiny', pretrained='synthetic', n_train=304, n_val=48, classes=8,
               workers=0, lr=0.02, head_lr_mult=10., epochs=10, lo_match=0, final_valid=0,
               threads=int(os.environ.get('OMP_NUM_THREADS', 1)))
GRID = ['size=64,bs=4,variant=b0,pretrained=none',  # the embedded default before the pretrained encoder (at 304 images)
        'size=64,bs=4', 'size=64,bs=8', 'size=48,bs=4', 'size=48,bs=8', 'size=48,bs=16', 'size=32,bs=8',
        'size=48,bs=8,crop=32', 'size=48,bs=8,workers=2', 'size=48,bs=8,pretrained=none', 'size=48,bs=8,n_train=608',
        'size=48,bs=8,lo_match=1', 'size=48,bs=8,classes=21', 'size=48,bs=8,classes=21,lo_match=1',
        'size=48,bs=8,final_valid=1', 'size=48,bs=8,threads=2']
KINDS = ('label-only', 'stage1', 'stage2')
PARTS = ('data', 'fwd', 'loss', 'bwd', 'step', 'valid', 'other')

def parse_setting(text):
    "A setting dict from 'key=value,...' over `DEFAULT`."
    s = dict(DEFAULT)
    for kv in filter(None, text.split(',')):
        k, v = kv.split('=')
        if k not in s: raise SystemExit(f"unknown setting {k!r}; expected one of {list(s)}")
        s[k] = v if k in ('variant', 'pretrained') else float(v) if k in ('lr', 'head_lr_mult') else int(v)
    s['crop'] = s['crop'] or s['size']
    return s

def lo_ratio(s, root, split):
    "Optimiser steps of a Stage I epoch over those of a label-only epoch at `split` (batch `s['bs']`)."
    n_lab, n_unl = (len((root/f'splits/{split}/{n}.txt').read_text().splitlines()) for n in ('labeled', 'unlabeled'))
    return (2*n_unl // s['bs']) / max(n_lab // s['bs'], 1)

class FinalValid(Callback):
    "Skip validation except after the last epoch (`train` validates after every epoch)."
    def before_validate(self):
        if self.epoch < self.n_epoch - 1: raise CancelValidException()

def encoder(s): return dict(synthetic=str(SYNTHETIC_ENCODER), none=None).get(s['pretrained'], s['pretrained'])

class PartTimer(Callback):
    "Seconds spent in each part of the epochs it sees (see the module docstring)."
    order = -100  # first in, so every other callback's work lands in `other`
    def __init__(self): self.t = dict.fromkeys(PARTS, 0.)
    def _lap(self, part):
        now = time.perf_counter()
        if part is not None: self.t[part] += now - self.last
        self.last = now
    def before_train(self): self.last = time.perf_counter()
    def before_batch(self):
        if self.training: self._lap('data')
    def after_pred(self):
        if self.training: self._lap('fwd')
    def after_loss(self):
        if self.training: self._lap('loss')
    def after_backward(self):
        if self.training: self._lap('bwd')
    def after_step(self):
        if self.training: self._lap('step')
    def after_batch(self):
        if self.training: self._lap(None)
    def before_validate(self): self.v0 = time.perf_counter()
    def after_validate(self): self.t['valid'] += time.perf_counter() - self.v0

def quiet():
    "Silence the progress bars and logs of a training call."
    return contextlib.redirect_stdout(io.StringIO())

def make_data(s, work):
    "The synthetic dataset of setting `s` (cached in `work`), stand-in pseudo-masks, and the seconds it took."
    root = Path(work)/f"synthetic_{s['size']}_{s['n_train']}_{s['n_val']}_{s['classes']}"
    t = time.perf_counter()
    with quiet(): make_synthetic(root, n_train=s['n_train'], n_val=s['n_val'], size=s['size'], num_classes=s['classes'])
    secs = time.perf_counter() - t
    pseudo = root/'pseudo'
    if not pseudo.is_dir():
        pseudo.mkdir()
        for it in open_dataset(root, root/'splits/1_4/unlabeled.txt').items: shutil.copy(it.mask, pseudo/f'{it.image.stem}.png')
    return root, pseudo, secs

def learner(s, root, pseudo, kind, split):
    "A Learner for one epoch of `kind` at setting `s`."
    lab, val = open_dataset(root, root/f'splits/{split}/labeled.txt'), open_dataset(root, root/'splits/val.txt')
    unl = None if kind == 'label-only' else open_dataset(root, root/f'splits/{split}/unlabeled.txt')
    dls = semi_loaders(lab, val, unl, pseudo if kind == 'stage1' else None, bs=s['bs'], stage2=kind == 'stage2',
                       aug=Augment(s['crop']), num_workers=s['workers'])
    model = segformer(lab.info.num_classes, s['variant'], encoder(s))
    return semi_learner(dls, model, SGDConfig(s['lr'], s['head_lr_mult']), SelfReliance(0) if kind == 'stage2' else None,
                        cbs=Checkpoint(tempfile.mkdtemp(prefix='speed_ckpt_')))  # as `train` does: one every epoch

def time_epoch(learn):
    "Seconds per part of one epoch of `learn` (after one untimed warm-up epoch); `other` is the rest of `fit(1)`."
    timer = PartTimer()
    with learn.no_bar(), learn.no_logging(), quiet():
        learn.fit(1, lr=learn.lr_groups)
        t = time.perf_counter()
        learn.fit(1, lr=learn.lr_groups, cbs=timer)
        timer.t['other'] = time.perf_counter() - t - sum(timer.t.values())
    return timer.t

def plain_epoch(learn):
    "Seconds of the same training batches through a bare PyTorch loop (batches collected first)."
    batches = [(x.as_subclass(torch.Tensor), y.as_subclass(torch.Tensor).long()) for x, y in learn.dls.train]
    model = learn.model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    t = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        opt.zero_grad(); loss.backward(); opt.step()
    return time.perf_counter() - t, sum(len(x) for x, _ in batches)

def label_only(s, root, split, seed=0):
    "mIoU, wall seconds and seconds outside `fit` of a label-only `train` run of setting `s`."
    out = Path(tempfile.mkdtemp(prefix='speed_'))
    epochs = round(s['epochs'] * lo_ratio(s, root, split)) if s['lo_match'] else s['epochs']
    class FitTimer(Callback):  # (a callback named `Fit` would shadow `Learner.fit`)
        def before_fit(self): self.t0 = time.perf_counter()
        def after_fit(self): self.secs = time.perf_counter() - self.t0
    fit = FitTimer()
    t = time.perf_counter()
    with quiet(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cfg = TrainConfig.preset('synthetic', variant=s['variant'], pretrained=encoder(s), epochs=epochs, sr_epoch=None,
                                 crop=s['crop'], bs=s['bs'], lr=s['lr'], head_lr_mult=s['head_lr_mult'], seed=seed,
                                 label_only_epoch='labeled')  # `lo_match` sets the steps instead
        r = train(SplitData(root, root/f'splits/{split}', root/'splits/val.txt'), out, cfg, num_workers=s['workers'],
                  resume=False, cbs=[fit] + ([FinalValid()] if s['final_valid'] else []))
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return r['miou'], wall, wall - fit.secs

def main_job_estimate(s, ep, setup, seeds, sr_frac, ratio):
    "Seconds of the main job's training at setting `s` from the per-epoch medians `ep`, per-run `setup`, label-only `ratio`."
    E, sr = s['epochs'], round(s['epochs'] * sr_frac)
    lo, s1, s2 = (sum(v for p, v in ep[k].items() if p != 'valid' or not s['final_valid']) for k in KINDS)
    valid = 6*ep['stage1']['valid'] if s['final_valid'] else 0
    per_seed = valid + E*(ratio if s['lo_match'] else 1)*lo + E*s2 + 2*E*s1 + 2*(sr*s1 + (E - sr)*s2) + 6*setup
    return seeds * per_seed

def med(xs): return statistics.median(xs)

def bench(s, work, repeat, split, seeds, sr_frac, quick=False):
    torch.set_num_threads(s['threads'])
    root, pseudo, gen = make_data(s, work)
    ep = {}
    for kind in KINDS:
        runs = []
        for _ in range(repeat):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                runs.append(time_epoch(learner(s, root, pseudo, kind, split)))
        ep[kind] = {p: med([r[p] for r in runs]) for p in PARTS}
        if kind == 'stage1':
            tot = [sum(r.values()) for r in runs]
            spread = (max(tot) - min(tot)) / med(tot)
    n1 = len(learner(s, root, pseudo, 'stage1', split).dls.train) * s['bs']
    plain = med([plain_epoch(learner(s, root, pseudo, 'stage1', split))[0] for _ in range(repeat)])
    accs = [label_only(s, root, split, seed) for seed in range(1 if quick else seeds)]
    miou = [a[0] for a in accs]
    setup = med([a[2] for a in accs])
    return dict(setting=s, gen_s=gen, epochs=ep, stage1_images=n1, plain_stage1_s=plain, spread=spread,
                miou=miou, label_only_wall_s=med([a[1] for a in accs]), setup_s=setup,
                main_job_s=main_job_estimate(s, ep, setup, seeds, sr_frac, lo_ratio(s, root, split)))

def row(r):
    s, e = r['setting'], r['epochs']
    name = ','.join(f'{k}={v}' for k, v in s.items() if v != DEFAULT.get(k) and not (k == 'crop' and v == s['size']))
    s1 = e['stage1']
    cells = [name or 'default', f"{sum(e['label-only'].values()):.2f}", f"{sum(s1.values()):.2f}",
             f"{sum(e['stage2'].values()):.2f}", *(f"{s1[p]:.2f}" for p in PARTS), f"{r['plain_stage1_s']:.2f}",
             f"{r['spread']:.0%}", ' '.join(f'{100*m:.1f}' for m in r['miou']), f"{r['label_only_wall_s']:.1f}",
             f"{r['setup_s']:.1f}", f"{r['main_job_s']/60:.1f}"]
    return '| ' + ' | '.join(cells) + ' |'

HEADER = ('| setting | label-only epoch s | Stage I epoch s | Stage II epoch s | I: ' + ' | I: '.join(PARTS) +
          ' | I: plain torch | spread | label-only mIoU % (seeds) | label-only run s | setup s | main job min |')

def miou_table(grid, splits, seeds, work, out=None):
    "Print (and write to `out`) label-only mIoU %, mean +- sd over `seeds`, and seconds per run, per setting and split."
    print('| setting | ' + ' | '.join(splits) + ' | s per run |'); print('|---' * (len(splits) + 2) + '|')
    results = []
    for g in grid:
        s = parse_setting(g)
        torch.set_num_threads(s['threads'])
        root = make_data(s, work)[0]
        runs = {sp: [label_only(s, root, sp, seed) for seed in range(seeds)] for sp in splits}
        results.append(dict(setting=s, runs={sp: [dict(miou=m, wall_s=w) for m, w, _ in r] for sp, r in runs.items()}))
        cells = [f"{100*np.mean([m for m, _, _ in r]):.1f} ± {100*np.std([m for m, _, _ in r], ddof=1 if seeds > 1 else 0):.1f}"
                 for r in runs.values()]
        secs = med([w for r in runs.values() for _, w, _ in r])
        print(f"| {g} | " + ' | '.join(cells) + f" | {secs:.0f} |", flush=True)
    if out: Path(out).write_text(json.dumps(results, indent=1))
    return results

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--grid', nargs='*', default=None, help="settings 'key=value,...' (default: the built-in grid)")
    p.add_argument('--repeat', type=int, default=3, help='timings per epoch kind (median reported)')
    p.add_argument('--split', default='1_4', help='split of the timed epochs and label-only runs')
    p.add_argument('--seeds', type=int, default=3, help='seeds of the label-only runs and of the main-job estimate')
    p.add_argument('--sr_frac', type=float, default=0.75, help='Stage II starts at this fraction of the epochs')
    p.add_argument('--work', default=None, help='folder for the datasets (default: a temporary one)')
    p.add_argument('--json', default=None, help='also write the results here')
    p.add_argument('--quick', action='store_true', help='smoke test: one tiny setting, one repeat, 1 epoch')
    p.add_argument('--splits', nargs='*', default=None,
                   help='instead of the timings: label-only mIoU (mean and sd over --seeds) of each setting at these splits')
    a = p.parse_args(argv)
    hf_logging.disable_progress_bar()
    grid = a.grid if a.grid is not None else GRID
    if a.quick: grid, a.repeat = ['size=32,n_train=32,n_val=4,epochs=1,bs=4'], 1
    work = Path(a.work or tempfile.mkdtemp(prefix='train_speed_'))
    if a.splits: return miou_table(grid, a.splits, a.seeds, work, a.json)
    print(f"torch {torch.__version__}, split {a.split}, {a.repeat} repeat(s), {a.seeds} seed(s)\n")
    print(HEADER); print('|---' * (HEADER.count('|') - 1) + '|')
    results = []
    for g in grid:
        r = bench(parse_setting(g), work, a.repeat, a.split, a.seeds, a.sr_frac, a.quick)
        results.append(r); print(row(r), flush=True)
    if a.json: Path(a.json).write_text(json.dumps(results, indent=1))
    return results

if __name__ == '__main__': main()

"""`MeanIoU` under fastai's distributed mode: two real CPU processes (gloo), exact whole-set counts on every rank.

How the processes are started: this file re-runs itself as two workers (`python this_file.py --worker OUT`) with the
environment `accelerate launch --cpu --num_processes 2` would give them (`ACCELERATE_USE_CPU=true`, `RANK`,
`LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT` on a free port). Each worker takes the path users take:
`with learn.distrib_ctx(): learn.validate()`. `distrib_ctx` adds fastai's `DistributedTrainer`, whose `Accelerator`
sees a multi-CPU run (`ACCELERATE_USE_CPU` is what makes accelerate choose `MULTI_CPU`/gloo instead of `NO`), creates
the gloo process group, and wraps the validation loader in `DistributedDL`.

On CPU this needs `conformalsam.distributed.patch_distributed_dl()`, the one explicit call that patches fastai's
`DistributedDL._broadcast` (fastai 2.8.7 broadcasts on CUDA whatever the backend), as `train` makes it.

The validation set has 13 items in batches of 3: 13 is not a multiple of 2 * 3, and it is odd, so `DistributedDL`
pads rank 1 with a repeat of item 0 (7 items per rank, batches of 3, 3 and 1). The test asserts that both ranks report
the confusion matrix, per-class IoUs and mIoU of `mean_iou` on the 13 items in one process, exactly, and that the
padding really happened (the ranks together saw one item too many). A second validation with an out-of-range label in
one rank's item checks that both ranks raise `ValueError` (the range check reads the gathered counts), so no rank is
left waiting in a collective. The model is a 1x1 convolution with integer
weights on integer inputs, so its logits are exact in float32 whatever the batching and the argmax cannot differ
between the workers and the reference.
"""
import json, os, sys, tempfile
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gloo import launch

from conformalsam.core import IGNORE
from conformalsam.metrics import MeanIoU, confusion_matrix, mean_iou

K, N_TRAIN, N_VALID, BS, SIZE, WORLD = 4, 4, 13, 3, 6, 2
BAD_ITEM, BAD_VALUE = 12, 9  # item 12 is in rank 1's second batch
TIMEOUT = 90  # seconds for both workers together: a hang fails the test; a normal run takes 15-35 s on 2 cores


def make_data_and_model():
    "Deterministic data and model, identical in the parent and in every worker."
    g = torch.Generator().manual_seed(0)
    xs = torch.randint(-3, 4, (N_TRAIN + N_VALID, 3, SIZE, SIZE), generator=g).float()
    ys = torch.randint(0, K, (N_TRAIN + N_VALID, SIZE, SIZE), generator=g)
    ys[torch.rand(ys.shape, generator=g) < .15] = IGNORE
    model = nn.Conv2d(3, K, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randint(-2, 3, model.weight.shape, generator=g).float())
        model.bias.zero_()
    return xs, ys, model


def worker(out_dir):
    import torch.distributed as dist
    from fastai.callback.core import Callback
    from fastai.data.core import DataLoaders
    import fastai.distributed  # adds Learner.distrib_ctx
    from conformalsam.distributed import patch_distributed_dl
    patch_distributed_dl()  # fastai's DistributedDL on gloo
    from fastai.learner import Learner
    import torch.nn.functional as F

    class Seen(Callback):
        "Record what this rank's validation loader produced (locally, before any gathering)."
        def before_validate(self): self.dl_type, self.n_items, self.n_labeled, self.n_batches = None, 0, 0, 0
        def after_batch(self):
            self.dl_type = type(self.learn.dl).__name__
            self.n_items += len(self.learn.yb[0]); self.n_labeled += int((self.learn.yb[0] != IGNORE).sum())
            self.n_batches += 1

    xs, ys, model = make_data_and_model()
    dsets = [list(zip(xs[:N_TRAIN], ys[:N_TRAIN])), list(zip(xs[N_TRAIN:], ys[N_TRAIN:]))]
    dls = DataLoaders.from_dsets(*dsets, bs=BS, device='cpu')
    met, seen = MeanIoU(K), Seen()
    def loss_func(out, y):  # cross-entropy that skips out-of-range labels, so that the metric is what meets them
        return F.cross_entropy(out, torch.where((y >= 0) & (y < K), y, IGNORE), ignore_index=IGNORE)
    learn = Learner(dls, model, loss_func=loss_func, metrics=met, cbs=seen)
    with learn.distrib_ctx():
        assert dist.is_initialized() and dist.get_backend() == 'gloo' and dist.get_world_size() == WORLD
        with learn.no_bar(), learn.no_logging(): loss, miou = learn.validate()
        rank = dist.get_rank()
        _, iou = met.result()
        res = dict(rank=rank, miou=miou, iou=iou.tolist(), confusion=met.confusion.tolist(), dl_type=seen.dl_type,
                   n_items=seen.n_items, n_labeled=seen.n_labeled, n_batches=seen.n_batches)
        # a label out of range in an item of rank 1 only: both ranks must raise at the same batch (none left waiting)
        yv = ys[N_TRAIN:].clone(); yv[BAD_ITEM, 0, 0] = BAD_VALUE
        try:
            with learn.no_bar(), learn.no_logging(): learn.validate(dl=learn.dls.valid.new(list(zip(xs[N_TRAIN:], yv))))
            res['error'] = None
        except ValueError as e: res['error'] = str(e)
    (Path(out_dir) / f'rank{rank}.json').write_text(json.dumps(res))
    if dist.is_initialized(): dist.destroy_process_group()


def test_mean_iou_metric_two_gloo_processes():
    xs, ys, model = make_data_and_model()
    xv, yv = xs[N_TRAIN:], ys[N_TRAIN:]
    with torch.no_grad(): pred = model(xv).argmax(1)
    ref_miou, ref_iou = mean_iou(pred, yv, K)
    ref_cm = confusion_matrix(pred, yv, K)
    first = yv[0]  # DistributedDL pads with the first item(s)

    with tempfile.TemporaryDirectory() as d:
        launch(__file__, [d], WORLD, TIMEOUT, d)
        results = [json.loads((Path(d) / f'rank{r}.json').read_text()) for r in range(WORLD)]

    assert N_VALID % (WORLD * BS) and N_VALID % WORLD  # the set really needs padding
    for r in results:
        assert r['dl_type'] == 'DistributedDL'
        assert r['confusion'] == ref_cm.tolist()   # exact int64 counts of the whole set, padding not counted
        assert r['miou'] == ref_miou                # bit-identical float
        assert r['iou'] == ref_iou.tolist()
    # the ranks together saw 14 items: the 13 real ones plus a repeat of item 0, which the metric dropped
    assert [r['n_items'] for r in results] == [7, 7] and [r['n_batches'] for r in results] == [3, 3]
    assert sum(r['n_labeled'] for r in results) == int((yv != IGNORE).sum() + (first != IGNORE).sum())
    assert sum(map(sum, results[0]['confusion'])) == int((yv != IGNORE).sum())
    # bad labels: rank 1 (which holds the item) names the value, rank 0 raises too instead of waiting in a collective
    assert f'target value {BAD_VALUE} is outside [0, {K})' in results[1]['error'], results[1]['error']
    assert "a target value (in another process's batch)" in results[0]['error'], results[0]['error']


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(sys.argv[2])

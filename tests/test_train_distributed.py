"""The training of `conformalsam.train.train` on two CPU processes (gloo), through fastai's distributed support.

This file re-runs itself as two workers with the environment `accelerate launch --cpu --num_processes 2` gives them
(`ACCELERATE_USE_CPU=true`, `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT` on a free port). Each
worker calls `train(...)` exactly as a single-process run does; `train` enters `learn.distrib_ctx()`, whose
`DistributedTrainer` wraps the model in DDP (gloo) and every loader in `DistributedDL`.

Checked: both ranks finish; each trains half of every epoch's batches (Stage I and Stage II), keeps the 2 labeled + 2
unlabeled layout in Stage II, and ends with the same weights (DDP keeps them in sync) and the same whole-set mIoU;
rank 0 alone writes the model and results, every rank its own RNG state in each checkpoint.
"""
import json, os, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gloo import launch
from test_train_resume import make_inputs, config

WORLD, TIMEOUT = 2, 150


def worker(work, out):
    from fastai.callback.core import Callback
    from conformalsam.data import SplitData
    from conformalsam.train import train

    class Seen(Callback):
        "Per epoch: the loader type, number of batches and labeled flags of the items this rank trained on."
        order = 20
        def before_train(self): self.rec = dict(epoch=self.epoch, dl=type(self.learn.dl).__name__, n=0)
        def before_batch(self):
            if not self.training: return
            if self.rec['n'] == 0:  # this rank's share of the epoch's item order, as labeled flags
                dl = self.learn.dl
                self.rec['labeled'] = [i < dl.dl.n_labeled for i in dl._DataLoader__idxs]
            self.rec['n'] += 1
        def after_train(self): self.log.append(self.rec)
        def before_fit(self): self.log = []
        def after_fit(self):
            import hashlib
            self.weights = hashlib.sha256(b''.join(v.detach().cpu().numpy().tobytes()
                                                   for v in self.learn.model.state_dict().values())).hexdigest()

    seen = Seen()
    work = Path(work); root = work/'synth'
    data = SplitData(root, root/'splits/1_4', root/'splits/val.txt', pseudo_dir=work/'pseudo')
    res = train(data, out, config(work, epochs=2, sr_epoch=1, deterministic=False), num_workers=0, keep=5, cbs=[seen])
    rank = int(os.environ['RANK'])
    (Path(out)/f'rank{rank}.json').write_text(json.dumps(dict(rank=rank, miou=res['miou'], seen=seen.log, weights=seen.weights)))


def test_train_two_gloo_processes():
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        out = work/'run'
        launch(__file__, [work, out], WORLD, TIMEOUT, work)
        results = [json.loads((out/f'rank{r}.json').read_text()) for r in range(WORLD)]
        assert results[0]['miou'] == results[1]['miou'] and results[0]['weights'] == results[1]['weights']
        # 12 unlabeled images, bs 4: 2*12/4 = 6 iterations per epoch in one process, 3 per rank, both stages
        for r in results:
            assert [(s['epoch'], s['dl'], s['n']) for s in r['seen']] == [(0, 'DistributedDL', 3), (1, 'DistributedDL', 3)]
            assert r['seen'][1]['labeled'] == [True, True, False, False] * 3  # Stage II: 2 + 2 in every batch
            assert len(r['seen'][0]['labeled']) == 12
        assert (out/'model/model.safetensors').exists() and (out/'results.json').exists()
        for c in ('epoch_000', 'epoch_001'):
            assert sorted(p.name for p in (out/'checkpoints'/c).iterdir()) == ['model.safetensors', 'rng0.safetensors',
                                                                               'rng1.safetensors', 'state.json', 'state.safetensors']
        res = json.loads((out/'results.json').read_text())
        assert res['miou'] == results[0]['miou'] and res['processes'] == 2


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(*sys.argv[2:4])

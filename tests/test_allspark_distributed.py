"""ConformalSAM(AllSpark) (`train(..., arch='allspark')`) on two CPU processes (gloo), through fastai's distributed support.

The file re-runs itself as two workers the way `accelerate launch --cpu --num_processes 2` starts them (see `gloo.py`);
each calls `train` exactly as a single-process run does: 2 epochs, Stage I on 2 + 2 batches with the stand-in
pseudo-masks, Stage II (AllSpark self-training, Eq. 5) from epoch 1, the semantic memory on from epoch 1.

The memory is a buffer of the model, and DDP (PyTorch's default `broadcast_buffers=True`, which accelerate keeps)
broadcasts rank 0's buffers before a forward that follows a training forward — exactly what happens to AllSpark's
queue under its own DDP training (`train_allspark.py`): every training forward starts from the same memory on all
ranks (rank 0's); each rank then writes its own unlabeled channels, which rank 0's next broadcast replaces, so the
memory that carries over is rank 0's. Checked: both ranks train the 2 + 2 layout in both stages on half of each
epoch's batches; every training forward sees the same memory on both ranks; both end with the same weights, memory
included, and the same mIoU; rank 0 writes the AllSpark model and results.
"""
import json, os, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gloo import launch
from test_train_resume import make_inputs, config

WORLD, TIMEOUT = 2, 150


def _digest(*tensors):
    import hashlib
    return hashlib.sha256(b''.join(t.detach().cpu().numpy().tobytes() for t in tensors)).hexdigest()


def worker(work, out):
    from fastai.callback.core import Callback
    from conformalsam.data import SplitData
    from conformalsam.train import train

    class Seen(Callback):
        "Labeled flags of this rank's items per epoch, the memory at every training forward, the final weights."
        order = 20  # after DistributedTrainer (11) wrapped the model and the loaders
        def before_fit(self):
            self.log, self.memory = [], []
            inner = self.learn.model.module
            def hook(m, args):
                if m.training: self.memory.append(_digest(m.allspark.attn.kv_queue, m.allspark.attn.queue_ptr))
            self.handle = inner.register_forward_pre_hook(hook)
        def before_train(self): self.rec = dict(epoch=self.epoch, n=0)
        def before_batch(self):
            if not self.training: return
            if self.rec['n'] == 0:
                dl = self.learn.dl
                self.rec['labeled'] = [i < dl.dl.n_labeled for i in dl._DataLoader__idxs]
            self.rec['n'] += 1
        def after_train(self): self.log.append(self.rec)
        def after_fit(self):
            self.handle.remove()
            self.weights = _digest(*self.learn.model.state_dict().values())

    seen = Seen()
    work = Path(work); root = work/'synth'
    res = train(SplitData(root, root/'splits/1_4', root/'splits/val.txt', pseudo_dir=work/'pseudo'), out,
                config(work, arch='allspark', epochs=2, sr_epoch=1, smem_epoch=1, deterministic=False),
                num_workers=0, cbs=[seen])
    rank = int(os.environ['RANK'])
    (Path(out)/f'rank{rank}.json').write_text(json.dumps(dict(miou=res['miou'], seen=seen.log, memory=seen.memory,
                                                              weights=seen.weights)))


def test_allspark_two_gloo_processes():
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        out = work/'run'
        launch(__file__, [work, out], WORLD, TIMEOUT, work)
        r0, r1 = [json.loads((out/f'rank{r}.json').read_text()) for r in range(WORLD)]
        assert r0['miou'] == r1['miou'] and r0['weights'] == r1['weights']
        # 12 unlabeled images, bs 4: 6 iterations per epoch, 3 per rank; 2 + 2 in every batch of both stages
        for r in (r0, r1):
            assert [(s['epoch'], s['n'], s['labeled']) for s in r['seen']] == [(e, 3, [True, True, False, False] * 3)
                                                                                for e in (0, 1)]
        assert len(r0['memory']) == 6 and r0['memory'] == r1['memory']  # same memory at every training forward
        assert len(set(r0['memory'])) == 6  # ... and it changed at every step
        res = json.loads((out/'results.json').read_text())
        assert res['miou'] == r0['miou'] and res['config']['arch'] == 'allspark'
        cfg = json.loads((out/'model/config.json').read_text())
        assert cfg['allspark'] == dict(crop=32, num_heads=2, dropout=0.1, smem_epoch=1)


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(*sys.argv[2:4])

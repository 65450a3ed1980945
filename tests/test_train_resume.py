"""Exact resumption after `kill -9`: a run killed during training and started again ends with the same weights.

The same training (`conformalsam.train.train`: tiny SegFormer from a tiny encoder checkpoint on disk, synthetic scenes,
stand-in pseudo-masks made from the ground truth, 4 epochs of which the last 2 are Stage II, deterministic CPU mode,
no loader processes) runs in fresh processes: once uninterrupted, once killed with SIGKILL while it trains its third
epoch (its first Stage II epoch, right after the second epoch's checkpoint appeared) and then started again with the
same command. The resumed run must start from the checkpoint (it does not redo epochs 0-1) and end with bit-identical
weights, optimiser-driven history and mIoU.
"""
import json, os, signal, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120


def worker(work, out):
    from conformalsam.train import train
    work = Path(work)
    root = work/'synth'
    train(root, root/'splits/1_4', root/'splits/val.txt', out, pseudo_dir=work/'pseudo', variant=None,
          pretrained=work/'mit-tiny', epochs=4, sr_epoch=2, crop=32, bs=4, lr=0.1, head_lr_mult=1, seed=0,
          deterministic=True, num_workers=0, keep=10)


def make_inputs(work):
    "Synthetic dataset, stand-in pseudo-masks (GT with 30% of object pixels rejected) and a tiny encoder checkpoint."
    import torch
    from PIL import Image
    from transformers import SegformerConfig, SegformerForImageClassification
    from conformalsam.core import IGNORE
    from conformalsam.data import make_synthetic, open_dataset, load_mask
    root = make_synthetic(work/'synth', n_train=16, n_val=4, size=32, seed=0)
    unl = open_dataset(root, root/'splits/1_4/unlabeled.txt')
    rng = np.random.default_rng(0); (work/'pseudo').mkdir()
    for it in unl.items:
        m = load_mask(it.mask, unl.info.num_classes)
        m[(rng.random(m.shape) < 0.3) & (m > 0)] = IGNORE
        Image.fromarray(m).save(work/'pseudo'/f'{it.image.stem}.png')
    torch.manual_seed(0)
    tiny = SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                           decoder_hidden_size=16)
    SegformerForImageClassification(tiny).save_pretrained(work/'mit-tiny')


def _cmd(work, out): return [sys.executable, __file__, '--worker', str(work), str(out)]
_ENV = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', MPLBACKEND='Agg',
            PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))


def _run(work, out):
    p = subprocess.run(_cmd(work, out), env=_ENV, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _weights(out):
    from safetensors.torch import load_file
    return load_file(Path(out)/'model/model.safetensors')


def test_kill_and_resume_gives_identical_weights():
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        _run(work, work/'ref')

        out = work/'killed'
        p = subprocess.Popen(_cmd(work, out), env=_ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + TIMEOUT
        while not (out/'checkpoints/epoch_001').exists():  # two epochs done: it is now training epoch 2 (Stage II)
            assert p.poll() is None, f"run ended before it could be killed:\n{p.stderr.read().decode()[-3000:]}"
            assert time.monotonic() < deadline, "timed out waiting for the second checkpoint"
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL); p.wait(); p.stderr.close()
        assert p.returncode == -signal.SIGKILL
        assert not (out/'model').exists() and not (out/'checkpoints/epoch_003').exists()
        first = {c.name: (c/'model.safetensors').stat().st_mtime_ns for c in (out/'checkpoints').glob('epoch_*')}

        _run(work, out)
        ckpts = sorted(c.name for c in (out/'checkpoints').glob('epoch_*'))
        assert ckpts == ['epoch_000', 'epoch_001', 'epoch_002', 'epoch_003']
        for name, t in first.items():  # epochs finished before the kill were not trained again
            if name in ('epoch_000', 'epoch_001'): assert (out/'checkpoints'/name/'model.safetensors').stat().st_mtime_ns == t
        assert not list((out/'checkpoints').glob('.*'))  # no half-written checkpoint left behind

        ref, got = _weights(work/'ref'), _weights(out)
        assert ref.keys() == got.keys()
        for k in ref: assert (ref[k] == got[k]).all(), f"{k} differs after resuming"
        r1, r2 = (json.loads((o/'results.json').read_text()) for o in (work/'ref', out))
        assert r1['miou'] == r2['miou'] and r1['history'] == r2['history']


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(*sys.argv[2:4])

"""Exact resumption after `kill -9`: a run killed at any point and started again ends with byte-identical outputs.

The same training (`conformalsam.train.train`: tiny SegFormer from a tiny encoder checkpoint on disk, synthetic scenes,
stand-in pseudo-masks made from the ground truth, 4 epochs of which the last 2 are Stage II, AllSpark's augmentation
with its colour step, deterministic CPU mode, no loader processes) runs in fresh processes: once uninterrupted, and
once killed with SIGKILL, then started again with the same command, at three points:

- while it trains its third epoch (its first Stage II epoch, right after the second epoch's checkpoint appeared): the
  resumed run starts from that checkpoint (it does not redo epochs 0-1);
- after its last checkpoint, before it writes `model/` and `results.json` (the worker holds there);
- during the final save of `model/` (the worker holds with the model written to its temporary folder).

Each rerun must end with `model/` and `results.json` byte-identical to the uninterrupted run's and leave no temporary
files behind.
"""
import os, signal, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 180


def config(work, **changes):
    "The tiny run's `TrainConfig`."
    from conformalsam.train import TrainConfig
    return TrainConfig.preset('synthetic', **{**dict(variant=None, pretrained=str(Path(work)/'mit-tiny'), epochs=4, sr_epoch=2,
                              crop=32, bs=4, lr=0.1, head_lr_mult=1, augment='allspark', deterministic=True), **changes})


def worker(work, out, hold='none'):
    import time
    import conformalsam.train as T
    from conformalsam.data import SplitData
    if hold == 'outputs':  # after the last checkpoint: hold before anything final is written
        T.atomic_write = lambda *a, **k: time.sleep(600)
    elif hold == 'save':  # hold inside the final save, the model written to its temporary folder
        from conformalsam.model import SegFormer
        save = SegFormer.save_pretrained
        SegFormer.save_pretrained = lambda self, path: (save(self, path), time.sleep(600))
    work = Path(work)
    root = work/'synth'
    data = SplitData(root, root/'splits/1_4', root/'splits/val.txt', pseudo_dir=work/'pseudo')
    T.train(data, out, config(work), num_workers=0, keep=10)


def make_inputs(work):
    "Synthetic dataset, stand-in pseudo-masks (GT with 30% of object pixels rejected) and a tiny encoder checkpoint."
    from conformalsam.data import make_synthetic, open_dataset
    from conformalsam.testing import stand_in_pseudo, tiny_segformer_encoder
    root = make_synthetic(work/'synth', n_train=16, n_val=4, size=32, seed=0)
    stand_in_pseudo(open_dataset(root, root/'splits/1_4/unlabeled.txt'), work/'pseudo')
    tiny_segformer_encoder(work/'mit-tiny')


def _cmd(work, out, hold='none'): return [sys.executable, __file__, '--worker', str(work), str(out), hold]
_ENV = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', MPLBACKEND='Agg',
            PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))


def _run(work, out):
    p = subprocess.run(_cmd(work, out), env=_ENV, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _kill_when(work, out, ready, hold='none'):
    "Start a run, SIGKILL it as soon as `ready()` holds."
    p = subprocess.Popen(_cmd(work, out, hold), env=_ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        assert p.poll() is None, f"run ended before it could be killed:\n{p.stderr.read().decode()[-3000:]}"
        assert time.monotonic() < deadline, "timed out waiting for the point to kill at"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait(); p.stderr.close()
    assert p.returncode == -signal.SIGKILL


def _outputs(out):
    "`{relative path: bytes}` of the run's final outputs."
    out = Path(out)
    return {str(f.relative_to(out)): f.read_bytes() for f in [out/'results.json', *sorted((out/'model').iterdir())]}


def _leftovers(out):
    out = Path(out)  # the lock file stays (empty; the OS lock on it ends with its process)
    return [p for p in [*out.glob('.*'), *(out/'checkpoints').glob('.*')] if p.name != '.conformalsam.lock']


def _check_rerun(work, out, ref):
    _run(work, out)
    assert _outputs(out) == ref, "the resumed run's outputs differ from the uninterrupted run's"
    assert _leftovers(out) == [], f"left-overs: {_leftovers(out)}"


def test_kill_and_resume_gives_identical_outputs():
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        _run(work, work/'ref')
        ref = _outputs(work/'ref')

        # 1. during training (the first Stage II epoch)
        out = work/'mid'
        _kill_when(work, out, lambda: (out/'checkpoints/epoch_001').exists())
        assert not (out/'model').exists() and not (out/'checkpoints/epoch_003').exists()
        first = {c.name: (c/'model.safetensors').stat().st_mtime_ns for c in (out/'checkpoints').glob('epoch_*')}
        _check_rerun(work, out, ref)
        assert sorted(c.name for c in (out/'checkpoints').glob('epoch_*')) == [f'epoch_00{i}' for i in range(4)]
        for name in ('epoch_000', 'epoch_001'):  # epochs finished before the kill were not trained again
            assert (out/'checkpoints'/name/'model.safetensors').stat().st_mtime_ns == first[name]

        # 2. after the last checkpoint, before model/ and results.json
        out = work/'after'
        _kill_when(work, out, lambda: (out/'checkpoints/epoch_003').exists(), hold='outputs')
        assert not (out/'model').exists() and not (out/'results.json').exists()
        _check_rerun(work, out, ref)

        # 3. during the final save of model/
        out = work/'save'
        _kill_when(work, out, lambda: any(out.glob('.model.tmp*/model.safetensors')), hold='save')
        assert not (out/'model').exists() and list(out.glob('.model.tmp*'))
        _check_rerun(work, out, ref)

        # and a finished run asked again changes nothing
        before = {f: f.stat().st_mtime_ns for f in (work/'ref').rglob('*') if f.is_file()}
        _run(work, work/'ref')
        assert {f: f.stat().st_mtime_ns for f in (work/'ref').rglob('*') if f.is_file()} == before


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(*sys.argv[2:5])

"""The training logs of a run (`conformalsam.train.train`): TensorBoard event files in `out/tensorboard` and
`out/history.csv`, one value per epoch, also after a kill and a resume; Weights & Biases refused when not installed.

The tiny run of `test_train_resume.py` (4 epochs, Stage II from epoch 2, stand-in Stage I masks) runs in fresh
processes: once uninterrupted, and once killed while it saves epoch 2's checkpoint (its logs of epoch 2 already
written), then started again: it resumes from epoch 1's checkpoint and writes epoch 2 again, which must replace,
not repeat, what the killed run logged.
"""
import csv, subprocess, sys, tempfile, time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_train_resume import make_inputs, config, _ENV, _kill_when, REPO, TIMEOUT

PER_EPOCH = ['loss/train', 'loss/valid', 'mIoU/valid', 'loss/supervised', 'lr/group0', 'lr/group1', 'stage']
STAGE2 = ['lambda', 'loss/unsupervised']  # Stage II epochs (2, 3) only


def worker(work, out, hold='none'):
    import conformalsam.train as T
    from conformalsam.checkpoints import Checkpoint
    from conformalsam.data import SplitData
    if hold == 'epoch2':  # hold while epoch 2's checkpoint is saved: its logs are written, its checkpoint not
        save = Checkpoint._save_shared
        def held(self, tmp):
            if self.epoch == 2: time.sleep(600)
            save(self, tmp)
        Checkpoint._save_shared = held
    work = Path(work)
    root = work/'synth'
    data = SplitData(root, root/'splits/1_4', root/'splits/val.txt', pseudo_dir=work/'pseudo')
    T.train(data, out, config(work, deterministic=False), num_workers=0, keep=10, images=2)


def _cmd(work, out, hold='none'): return [sys.executable, __file__, '--worker', str(work), str(out), hold]


def _events(out):
    "`{tag: [steps]}` of the scalars, images and texts TensorBoard shows for `out`."
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(Path(out)/'tensorboard'), size_guidance={'images': 0, 'tensors': 0}).Reload()
    tags = acc.Tags()
    steps = {t: [e.step for e in acc.Scalars(t)] for t in tags['scalars']}
    steps |= {t: [e.step for e in acc.Images(t)] for t in tags['images']}
    steps |= {t: [e.step for e in acc.Tensors(t)] for t in tags['tensors']}  # add_text
    return steps, acc


def _csv_epochs(out):
    with open(Path(out)/'history.csv') as f: return [int(r['epoch']) for r in csv.DictReader(f)]


def _check_logs(out):
    steps, acc = _events(out)
    for t in PER_EPOCH: assert steps.get(t) == [0, 1, 2, 3], (t, steps.get(t))
    for t in STAGE2: assert steps.get(t) == [2, 3], (t, steps.get(t))
    assert steps['pseudo/labeled_fraction'] == [0] and 0 < acc.Scalars('pseudo/labeled_fraction')[0].value < 1
    assert steps['stage2_start'] == [0] and acc.Scalars('stage2_start')[0].value == 2
    assert [e.value for e in acc.Scalars('stage')] == [1, 1, 2, 2]
    lam = [e.value for e in acc.Scalars('lambda')]
    assert lam[0] == pytest.approx(0.5) and lam[1] < lam[0]  # Eq. 5: lambda0, then decaying
    assert steps['valid/0'] == [1, 3]  # images=2: every other epoch
    assert _csv_epochs(out) == [0, 1, 2, 3]
    return steps


def test_logs_of_a_run_and_of_a_killed_and_resumed_one():
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        p = subprocess.run(_cmd(work, work/'ref'), env=_ENV, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr[-3000:]
        _check_logs(work/'ref')

        out = work/'killed'
        _kill_when.__globals__['_cmd'], cmd = _cmd, _kill_when.__globals__['_cmd']
        try: _kill_when(work, out, lambda: (out/'checkpoints/.epoch_002.tmp').exists(), hold='epoch2')
        finally: _kill_when.__globals__['_cmd'] = cmd
        assert not (out/'checkpoints/epoch_002').exists() and _csv_epochs(out) == [0, 1, 2]  # epoch 2 logged
        p = subprocess.run(_cmd(work, out), env=_ENV, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr[-3000:]
        assert len(list((out/'tensorboard').glob('events.*'))) == 2  # the resume appended a file
        _check_logs(out)  # ... and TensorBoard shows each epoch once


def test_wandb_refused_when_not_installed(monkeypatch):
    import importlib.util
    import conformalsam.train as T
    from conformalsam.data import SplitData
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'wandb' else find(name, *a))
    with tempfile.TemporaryDirectory() as d:
        data = SplitData(Path(d)/'nowhere', Path(d)/'split', Path(d)/'val.txt')
        with pytest.raises(ModuleNotFoundError, match='wandb.*not installed: pip install wandb'):
            T.train(data, Path(d)/'out', wandb=True)
        assert not (Path(d)/'out').exists()  # refused before anything was made
        with pytest.raises(SystemExit) as e: T.train_cli([d, d, d, str(Path(d)/'out2'), '--wandb'])
        assert e.value.code == 2


if __name__ == '__main__' and sys.argv[1:2] == ['--worker']: worker(*sys.argv[2:5])

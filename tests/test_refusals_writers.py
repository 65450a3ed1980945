"""Bad-state catalogue of the files runs write (format: `tests/refusals.py`): a folder another live run writes, a
results file that is JSON but not what it should be, and a disk that fills up while masks, the cache, a checkpoint or
the final model are written (simulated: the writer raises `OSError(ENOSPC)`; the message names the path being written
and says that a rerun resumes).
"""
import errno, json, os, subprocess, sys
from pathlib import Path
from types import SimpleNamespace
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from refusals import CLI, cases, check, run_cli
from test_train_resume import make_inputs, config
from conformalsam.core import DiskFull, FolderBusy
from conformalsam.data import open_dataset, SplitData
from conformalsam.experiment import load_results
from conformalsam.simulated import SimulatedLabeler
from conformalsam.streaming import Calibration
from conformalsam.pseudo import PseudoLabels
import conformalsam.checkpoints as C, conformalsam.pseudo as P
from conformalsam.model import SegFormer
from conformalsam.train import train


def _full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')


def _with(obj, name, f):
    "Call `f()` with `obj.name` replaced by a writer that finds the disk full."
    old = getattr(obj, name)
    setattr(obj, name, _full)
    try: return f()
    finally: setattr(obj, name, old)


def _locked(folder, f):
    "Call `f()` while another process holds `folder`'s lock (in one process, the lock may be held again)."
    code = ("import sys, time\nfrom conformalsam.core import folder_lock\n"
            "with folder_lock(sys.argv[1], 'test holder'):\n    print('held', flush=True); time.sleep(300)")
    p = subprocess.Popen([sys.executable, '-c', code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == 'held'
        return f()
    finally: p.kill(); p.wait(); p.stdout.close()


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('writers')
    make_inputs(d)
    root = d/'synth'
    e = SimpleNamespace(d=d, root=root, split=root/'splits/1_4', val=root/'splits/val.txt', who='test holder, pid ')
    e.cfg = config(d, epochs=1, sr_epoch=None, deterministic=False)
    e.train = lambda out, **k: train(SplitData(root, e.split, e.val, pseudo_dir=d/'pseudo'), out, e.cfg, num_workers=0, **k)
    lab, unl = open_dataset(root, e.split/'labeled.txt'), open_dataset(root, e.split/'unlabeled.txt')
    e.pl = lambda folder: PseudoLabels(folder, SimulatedLabeler([lab, unl]), lab, unl, Calibration(0.2, grid=8, clip=False))
    e.filled = e.pl(d/'cache').run()
    e.pseudo_cli = lambda cache, out: run_cli('conformalsam_pseudo', root, e.split/'labeled.txt',
                                              e.split/'unlabeled.txt', cache, out, '--labeler', 'simulated',
                                              '--alpha', '0.2', '--grid', '8')
    e.train_cli = lambda out: run_cli('conformalsam_train', root, e.split, e.val, out, '--preset', 'synthetic')
    for name, text in (('dict', {'key': 'a'}), ('missing', [{'key': 'a', 'method': 'cp'}]), ('number', [3])):
        (d/name).mkdir(); (d/name/'results.json').write_text(json.dumps(text))
    (d/'trained').mkdir(); (d/'trained'/'results.json').write_text('[]')
    return e


CASES = [
    # one writer per folder: a second run is refused at once, naming the folder and the live holder
    ('train into a folder a live run holds', lambda e: _locked(e.d/'busy', lambda: e.train(e.d/'busy')), FolderBusy,
     lambda e: f"{e.d/'busy'} is in use by another run: {e.who}"),
    ('CLI train into a folder a live run holds', lambda e: _locked(e.d/'busy_cli', lambda: e.train_cli(e.d/'busy_cli')),
     CLI, lambda e: f"{e.d/'busy_cli'} is in use by another run: {e.who}"),
    ('pseudo-labels into a cache a live run holds', lambda e: _locked(e.d/'c1', lambda: e.pl(e.d/'c1').run()),
     FolderBusy, lambda e: str(e.d/'c1')),
    ('CLI pseudo-labels into a cache a live run holds',
     lambda e: _locked(e.d/'c2', lambda: e.pseudo_cli(e.d/'c2', e.d/'o2')), CLI, lambda e: f"{e.d/'c2'} is in use"),
    ('masks into a folder a live run holds', lambda e: _locked(e.d/'m1', lambda: e.filled.write_masks(e.d/'m1')),
     FolderBusy, lambda e: e.who),
    # results files that are JSON but not records
    ('results.json an object', lambda e: load_results(e.d/'dict'), ValueError, 'holds a JSON dict, expected a list'),
    ('results.json record missing fields', lambda e: load_results(e.d/'missing'), ValueError,
     lambda e: f"{e.d/'missing'/'results.json'}: record 0 lacks ['dataset', 'split'"),
    ('results.json record a number', lambda e: load_results(e.d/'number'), ValueError, 'record 0 is a JSON int'),
    ("a training run's results.json a list", lambda e: e.train(e.d/'trained'), ValueError,
     lambda e: f"{e.d/'trained'/'results.json'} is not the record of a training run: a JSON list"),
    # disk full: the path being written, and that a rerun resumes
    ('disk full writing masks', lambda e: _with(Image.Image, 'save', lambda: e.filled.write_masks(e.d/'m2')), DiskFull,
     lambda e: f"while writing {e.d/'m2'/(e.filled.unlabeled.items[0].image.stem + '.png')}"),
    ('disk full writing the cache', lambda e: _with(P, 'save_file', lambda: e.pl(e.d/'c3').run()), DiskFull,
     lambda e: f"while writing {e.d/'c3'}"),
    ('disk full: a rerun resumes', lambda e: _with(P, 'save_file', lambda: e.pl(e.d/'c4').run()), DiskFull,
     'rerun the same command; it resumes where it stopped'),
    ('disk full writing a checkpoint', lambda e: _with(C, 'save_model', lambda: e.train(e.d/'t1')), DiskFull,
     lambda e: f"while writing {e.d/'t1'/'checkpoints'/'.epoch_000.tmp'/'model.safetensors'}"),
    ('disk full writing the model', lambda e: _with(SegFormer, 'save_pretrained', lambda: e.train(e.d/'t2')), DiskFull,
     lambda e: f"while writing {e.d/'t2'/'model'}"),
]


@cases(CASES)
def test_refused(case, env): check(case, env)


def test_disk_full_then_rerun_finishes(env):
    "After a full disk during the final save, the same call resumes from the checkpoint and finishes."
    out = env.d/'t3'
    with pytest.raises(DiskFull): _with(SegFormer, 'save_pretrained', lambda: env.train(out))
    assert (out/'checkpoints'/'epoch_000').is_dir() and not (out/'model').exists() and not list(out.glob('.model.tmp*'))
    assert env.train(out)['epoch'] == 0 and (out/'model'/'config.json').is_file()

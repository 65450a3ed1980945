"""The experiment notebooks' parameters: bad values (as papermill passes them) are refused by `resolve` before any work,
each naming the parameter or value. Format: tests/refusals.py."""
from pathlib import Path
from types import SimpleNamespace
import pytest
from refusals import cases, check
from conformalsam.experiment import Data, Labeling, resolve, run_experiment, write_inputs
from conformalsam.streaming import Calibration

TINY = dict(n_train=32, n_val=8, size=32)

@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('experiment')
    voc = d/'devkit'/'VOCdevkit'/'VOC2012'
    for sub in ('JPEGImages', 'SegmentationClass'): (voc/sub).mkdir(parents=True)
    e = SimpleNamespace(d=d, res=d/'results', devkit=d/'devkit')
    e.syn = lambda **kw: _syn(e.res, **kw)
    return e


def _syn(res, split='1_2', alpha=0.05, clip=True, labeler=None, seeds=1, device='auto', config=None, **train):
    "The embedded benchmark's experiment from the notebooks' flat parameters, its inputs written."
    exp = resolve(Data('synthetic', split, synthetic=TINY), Labeling(labeler), Calibration(alpha, clip),
                  train=dict(train, **(config or {})), seeds=seeds, results_dir=res, device=device)
    return write_inputs(exp)


def _real(e, split, labeler=None, masks='auto', root=None):
    return resolve(Data(root or e.devkit, split, masks), Labeling(labeler), results_dir=e.res)

CASES = [
    ('split 1_3 read by papermill as 13', lambda e: e.syn(split=1_3), ValueError, 'as the number 13'),
    ('split not a name of the field', lambda e: e.syn(split='half'), ValueError, "split 'half'"),
    ('synthetic split it does not have', lambda e: e.syn(split='1_32'), ValueError, "synthetic split '1_32'"),
    ('epochs as a word', lambda e: e.syn(epochs='two'), ValueError, "epochs='two'"),
    ('epochs zero', lambda e: e.syn(epochs=0), ValueError, 'epochs=0'),
    ('sr_epoch after the run', lambda e: e.syn(epochs=4, sr_epoch=9), ValueError, 'sr_epoch=9'),
    ('alpha as a word', lambda e: e.syn(alpha='abc'), ValueError, "alpha='abc'"),
    ('alpha above 1', lambda e: e.syn(alpha=1.5), ValueError, 'alpha=1.5'),
    ('clip not a bool', lambda e: e.syn(clip='yes'), ValueError, "clip='yes'"),
    ('batch odd with Stage II', lambda e: e.syn(batch=3), ValueError, 'bs=3'),
    ('batch as a word', lambda e: e.syn(batch='four'), ValueError, "batch='four'"),
    ('lr negative', lambda e: e.syn(lr=-1), ValueError, 'lr=-1'),
    ('unknown variant', lambda e: e.syn(variant='b9'), ValueError, "variant='b9'"),
    ('unknown config field', lambda e: e.syn(config={'lamda0': 0.7}), ValueError, 'lamda0'),
    ('no seeds', lambda e: e.syn(seeds=0), ValueError, 'seeds=0'),
    ('repeated seeds', lambda e: e.syn(seeds=[1, 1]), ValueError, 'seeds=[1, 1]'),
    ('unknown device', lambda e: e.syn(device='tpu'), ValueError, "device='tpu'"),
    ('a real labeler on the synthetic benchmark', lambda e: e.syn(labeler='sam3'), ValueError, "labeler='sam3'"),
    ('data_root that does not exist', lambda e: _real(e, '92', 'sam3', root=e.d/'nowhere'),
     FileNotFoundError, 'nowhere'),
    ('real data without a labeler', lambda e: _real(e, '92'), ValueError,
     '-p labeler maps -p model MAPS_FOLDER'),
    ('unknown labeler', lambda e: _real(e, '92', 'seem'), ValueError, "labeler='seem'"),
    ('split the shipped lists do not have', lambda e: _real(e, '1_3', 'sam3'),
     ValueError, "no voc split named '1_3'"),
    ('mask folder that does not exist', lambda e: _real(e, '1_16', 'sam3', 'Aug'),
     ValueError, "masks='Aug'"),
    ('unknown method', lambda e: run_experiment(e.syn(), ['cp', 'seem']), ValueError, "methods ['seem']"),
    ('labeled set too small for alpha, exact rule', lambda e: run_experiment(e.syn(alpha=0.01, clip=False), ['cp']),
     ValueError, 'n=16 labeled images are too few for alpha=0.01'),
]

@cases(CASES)
def test_refused(case, env): check(case, env)

def test_nothing_trained(env):
    "The refusals above left no results and no work folder behind (the synthetic data set itself is written once)."
    assert not (env.res/'results.json').exists() and not (env.res/'work').exists()

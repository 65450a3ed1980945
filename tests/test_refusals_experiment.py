"""The experiment notebooks' parameters: bad values (as papermill passes them) are refused by `resolve` before any work,
each naming the parameter or value. Format: tests/refusals.py."""
from pathlib import Path
from types import SimpleNamespace
import pytest
from refusals import cases, check
from conformalsam.experiment import resolve, run_experiment

TINY = dict(n_train=32, n_val=8, size=32)

@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('experiment')
    voc = d/'devkit'/'VOCdevkit'/'VOC2012'
    for sub in ('JPEGImages', 'SegmentationClass'): (voc/sub).mkdir(parents=True)
    e = SimpleNamespace(d=d, res=d/'results', devkit=d/'devkit')
    e.syn = lambda **kw: resolve('synthetic', kw.pop('split', '1_2'), results_dir=e.res, synthetic=TINY, **kw)
    return e

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
    ('data_root that does not exist', lambda e: resolve(e.d/'nowhere', '92', labeler='sam3', results_dir=e.res),
     FileNotFoundError, 'nowhere'),
    ('real data without a labeler', lambda e: resolve(e.devkit, '92', results_dir=e.res), ValueError,
     '-p labeler maps -p model MAPS_FOLDER'),
    ('unknown labeler', lambda e: resolve(e.devkit, '92', labeler='seem', results_dir=e.res), ValueError, "labeler='seem'"),
    ('split the shipped lists do not have', lambda e: resolve(e.devkit, '1_3', labeler='sam3', results_dir=e.res),
     ValueError, "no voc split named '1_3'"),
    ('mask folder that does not exist', lambda e: resolve(e.devkit, '1_16', labeler='sam3', masks='Aug', results_dir=e.res),
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

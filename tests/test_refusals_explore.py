"""Bad-input catalogue of the figures and the explorer (`explore`): format in `refusals.py`."""
import sys
from pathlib import Path
from types import SimpleNamespace
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import cases, check
from conformalsam.data import make_synthetic, open_dataset
from conformalsam.simulated import SimulatedLabeler
from conformalsam.pseudo import PseudoLabels
from conformalsam.streaming import Calibration
from conformalsam.model import segformer
from conformalsam.testing import tiny_segformer_encoder
from conformalsam.explore import Explorer, fig3_panel, coverage_vs_alpha, sr_start_curve, model_dir, load_model


class Armed(SimulatedLabeler):
    "Refuses to run: the calls below must be refused before any labeler work."
    def predict(self, images, classes): raise RuntimeError("the labeler was called")


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('explore')
    root = make_synthetic(d / 'synth', n_train=32, n_val=4, size=32, seed=0)
    lab, unl = [open_dataset(root, root / f'splits/1_2/{s}.txt') for s in ('labeled', 'unlabeled')]
    pl = PseudoLabels(d / 'cache', SimulatedLabeler([lab, unl], seed=0), lab, unl, Calibration(0.2, grid=32, clip=False), bs=4).run()
    pl.labeler = Armed([lab, unl])  # the cache is filled: from here on nothing may call the labeler
    rec = dict(dataset='synthetic', split='1_2', key='cp-0123', method='cp', params=dict(train=dict(arch='segformer')))
    segformer(lab.info.num_classes, None, tiny_segformer_encoder(d / 'encoder')).save_pretrained(model_dir(d / 'results', rec))
    return SimpleNamespace(d=d, pl=pl, ex=Explorer(pl, alphas=(0.1, 0.2)), rec=rec)


def _arch(e, arch): return dict(e.rec, params=dict(train=dict(arch=arch)))

CASES = [
    ('explorer: unknown image', lambda e: e.ex.update(image='nope'), ValueError, "'nope'"),
    ('explorer: alpha not on the slider', lambda e: e.ex.update(alpha=0.15), ValueError, 'alpha=0.15'),
    ('explorer: alpha the exact rule cannot calibrate', lambda e: Explorer(e.pl, alphas=(0.04,)), ValueError,
     'alpha=0.04'),
    ('explorer: alpha above the kept scores', lambda e: Explorer(e.pl, alphas=(0.5,)), ValueError, 'alpha <= 0.2'),
    ('explorer: no alpha', lambda e: Explorer(e.pl, alphas=()), ValueError, 'at least one alpha'),
    ('fig3: unknown image', lambda e: fig3_panel(e.pl, ['nope']), ValueError, "'nope'"),
    ('fig3: no image', lambda e: fig3_panel(e.pl, []), ValueError, 'at least one image'),
    ('fig3: alpha the exact rule cannot calibrate', lambda e: fig3_panel(e.pl, 1, alpha=0.04), ValueError, 'alpha=0.04'),
    ('coverage: alpha too small for the fold', lambda e: coverage_vs_alpha(e.pl, (0.05, 0.2)), ValueError,
     'calibrates on 8 of the 16 labeled images'),
    ('coverage: fold too small for any default', lambda e: coverage_vs_alpha(e.pl, test_frac=0.9), ValueError,
     'COVERAGE_ALPHAS'),
    ('coverage: test_frac 1', lambda e: coverage_vs_alpha(e.pl, (0.2,), test_frac=1), ValueError, 'test_frac=1'),
    ('coverage: no alpha', lambda e: coverage_vs_alpha(e.pl, ()), ValueError, 'at least one alpha'),
    ('fig4: no cp+sr record', lambda e: sr_start_curve([dict(e.rec)]), ValueError, "no 'cp+sr' records"),
    ('model: not trained there', lambda e: load_model(e.d / 'nowhere', e.rec), FileNotFoundError,
     lambda e: str(e.d / 'nowhere')),
    ('model: unknown architecture', lambda e: load_model(e.d / 'results', _arch(e, 'unet')), ValueError, "arch='unet'"),
    ('model: record and saved model disagree', lambda e: load_model(e.d / 'results', _arch(e, 'allspark')), ValueError,
     "arch 'segformer'"),
]

@cases(CASES)
def test_refused(case, env): check(case, env)

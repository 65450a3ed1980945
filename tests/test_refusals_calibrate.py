"""Bad-input catalogue of the calibration modules (`calibrate`, `calibrator`, `coverage`): format in `refusals.py`."""
import sys
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import cases, check
from conformalsam.testing import toy_pairs
from conformalsam.calibrate import nonconformity, pixel_quantiles, conformal_rank, prediction_sets, calibrated_labels
from conformalsam.streaming import Calibrator, Calibration
from conformalsam.coverage import evaluate


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('calib')
    pairs = toy_pairs(30, size=(12, 16))
    probs, target = pairs[0]
    cal = Calibrator(Calibration(0.1, grid=(12, 16), clip=False), max_images=30)
    for p, t in pairs: cal.update(p, t)
    small = Calibrator(Calibration(0.1, grid=(12, 16), clip=True), max_images=5)  # accepted with the clipped rule only
    for p, t in pairs[:5]: small.update(p, t)
    (d / 'junk.safetensors').write_bytes(b'\x00' * 16)
    return SimpleNamespace(d=d, probs=probs, target=target, scores=torch.rand(20, 3, 4), cal=cal, small=small,
                           nan_probs=probs.masked_fill(torch.rand(probs.shape) < 0.01, float('nan')))


CASES = [
    ('alpha not a number', lambda e: pixel_quantiles(e.scores, 'abc', clip=False), ValueError, "alpha='abc'"),
    ('alpha 0', lambda e: pixel_quantiles(e.scores, 0, clip=False), ValueError, 'alpha=0'),
    ('alpha 1', lambda e: conformal_rank(10, 1, clip=False), ValueError, 'alpha=1'),
    ('calibrator alpha 1.5', lambda e: Calibrator(Calibration(1.5, clip=False)), ValueError, 'alpha=1.5'),
    ('NaN probabilities', lambda e: nonconformity(e.nan_probs, e.target), ValueError, 'NaN'),
    ('probabilities above 1', lambda e: calibrated_labels(e.probs * 3, 0.5), ValueError, 'must lie in [0, 1]'),
    ('probs without a class axis', lambda e: nonconformity(e.probs[0], e.target), ValueError, '[..., K, H, W]'),
    ('target of another shape', lambda e: nonconformity(e.probs, e.target[:5]), ValueError, 'target has shape [5, 16]'),
    ('target values out of range', lambda e: nonconformity(e.probs, e.target.long().clamp(max=3) + 4), ValueError,
     'outside [0, 4)'),
    ('qhat with NaN', lambda e: prediction_sets(e.probs, float('nan')), ValueError, 'qhat contains 1 NaN'),
    ('background not a class', lambda e: calibrated_labels(e.probs, 0.5, background=9), ValueError, 'background=9'),
    ('too few images for alpha (exact rule)', lambda e: Calibrator(Calibration(0.05, clip=False), max_images=12), ValueError,
     'n=12 labeled images are too few for alpha=0.05'),
    ('too few images: the minimum is named', lambda e: Calibrator(Calibration(0.01, clip=False), max_images=92), ValueError,
     'min_scores(alpha) = ceil(1/alpha) - 1 = 99'),
    ('too few images read with the exact rule', lambda e: e.small.quantiles(clip=False), ValueError, 'clip=True'),
    ('alpha above the kept scores', lambda e: e.cal.quantiles(0.5), ValueError, 'read quantiles at alpha <= 0.1'),
    ('maps with another K than calibrated', lambda e: e.cal.labels(torch.rand(5, 12, 16)), ValueError,
     'K=5 classes but the calibrator was fitted on K=4'),
    ('calibration images with another K', lambda e: e.cal.update(torch.rand(3, 12, 16), e.target[:12, :16]),
     ValueError, 'earlier images had K=4'),
    ('more images than max_images', lambda e: e.small.update(*toy_pairs(1, size=(12, 16))[0]), ValueError,
     'max_images=5'),
    ('evaluate with another K', lambda e: evaluate(e.cal, [(torch.rand(5, 12, 16), e.target[:12, :16])]), ValueError,
     'fitted on K=4'),
    ('calibrator file that is not one', lambda e: Calibrator.load(e.d / 'junk.safetensors'), ValueError,
     'junk.safetensors'),
    ('calibrator file missing', lambda e: Calibrator.load(e.d / 'none.safetensors'), FileNotFoundError,
     'none.safetensors'),
]


@cases(CASES)
def test_refused(case, env): check(case, env)

"""A labeler that knows nothing labels nothing, and says so (issue 21).

Maps that are all 0, all 1 or uniform 1/K calibrate to prediction sets holding every class. Eq. 4 used to break the
tie for the best object class by index, giving every unlabeled pixel class 1 with `labeled_fraction` 1.0 and exit 0.
Now a tie abstains (255), and the uninformative calibration is reported in the run's output and in its record:
`conformalsam_pseudo` (SEEM-style maps folder: full maps for the labeled images, 'full' or 'stats' files for the
unlabeled ones) and the experiment's `run_method`.
"""
import json, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import run_cli
from conformalsam.data import make_synthetic, open_dataset, image_size
from conformalsam.maps import save_maps
from conformalsam.simulated import SimulatedLabeler

VALUES = {'zeros': 0., 'ones': 1., 'uniform': None}  # None: 1/K


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp('nothing') / 'synth', n_train=32, n_val=4, size=32, seed=4)


def _maps(root, folder, value, form):
    "A maps folder of constant maps: full for the labeled images, `form` for the unlabeled ones."
    lab, unl = [open_dataset(root, root / f'splits/1_4/{s}.txt') for s in ('labeled', 'unlabeled')]
    classes = lab.info.classes
    K = len(classes)
    for ds, f in ((lab, 'full'), (unl, form)):
        for it in ds.items:
            w, h = image_size(it.image)
            p = torch.full((K, h, w), 1 / K if value is None else value)
            save_maps(folder / f'{it.image.stem}.safetensors', p, classes, labeler='knows-nothing', form=f,
                      background=True, bg_channel='prompted')
    return folder


@pytest.mark.parametrize('form', ['full', 'stats'])
@pytest.mark.parametrize('name', list(VALUES))
def test_pseudo_cli_labels_nothing_and_warns(root, tmp_path, name, form):
    maps = _maps(root, tmp_path / 'maps', VALUES[name], form)
    p = run_cli('conformalsam_pseudo', root, root / 'splits/1_4/labeled.txt', root / 'splits/1_4/unlabeled.txt',
                tmp_path / 'cache', tmp_path / 'out', '--labeler', 'maps', '--model', maps, '--grid', '8',
                '--alpha', '0.25')
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    masks = [np.asarray(Image.open(f)) for f in sorted((tmp_path / 'out').glob('*.png'))]
    assert len(masks) == 24
    assert all((m == 255).all() for m in masks), {int(v) for m in masks for v in np.unique(m)}  # no class 1 by index
    rep = json.loads((tmp_path / 'out/report.json').read_text())
    assert rep['labeled_fraction'] == 0
    w, K = rep['calibration_warning'], len(open_dataset(root, root / 'splits/1_4/labeled.txt').info.classes)
    assert w is not None and w['K'] == K and w['tied_fraction'] == 1.0
    assert w['chance_fraction'] == (0. if name == 'ones' else 1.)  # all 1: q̂ = 0, yet every class is in every set
    assert 'UNINFORMATIVE CALIBRATION' in p.stderr and f'K={K}' in p.stderr, p.stderr[-3000:]


def test_informative_labeler_has_no_warning(root, tmp_path):
    p = run_cli('conformalsam_pseudo', root, root / 'splits/1_4/labeled.txt', root / 'splits/1_4/unlabeled.txt',
                tmp_path / 'cache', tmp_path / 'out', '--labeler', 'simulated', '--grid', '8', '--alpha', '0.25')
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / 'out/report.json').read_text())['calibration_warning'] is None
    assert 'UNINFORMATIVE' not in p.stderr + p.stdout


class KnowsNothing(SimulatedLabeler):
    "Uniform maps 1/K for every image (the simulated labeler's bookkeeping, none of its knowledge)."
    def predict(self, images, classes):
        return [torch.full((len(classes), *image_size(i)[::-1]), 1 / len(classes)) for i in images]


def test_experiment_record_carries_the_warning(tmp_path, monkeypatch, capsys):
    import conformalsam.experiment as ex
    monkeypatch.setattr(ex, 'make_labeler', lambda kind, model, datasets, **kw: KnowsNothing(datasets))
    exp = ex.write_inputs(ex.resolve(ex.Data('synthetic', '1_2', synthetic=dict(n_train=32, n_val=8, size=32)),
                                     train=dict(epochs=1, sr_epoch=1), results_dir=tmp_path / 'results'))
    rec = ex.run_method(exp, 'cp', 0, num_workers=0)
    w = rec['calibration_warning']
    assert w is not None and w['tied_fraction'] == 1.0 and w['chance_fraction'] == 1.0
    assert rec['masks_quality']['labeled_fraction'] == 0  # no pixel labeled from a tie
    assert 'WARNING: UNINFORMATIVE CALIBRATION' in capsys.readouterr().out

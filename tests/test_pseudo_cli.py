"""`conformalsam_pseudo` run as a user runs it: by name, in a shell, chained with `&&`.

A successful run exits 0 (so `conformalsam_pseudo ... && conformalsam_train ...` trains), writes the masks,
`pseudo.json` and `report.json` under the paper's clipped quantile rule (the default); `--no-clip` selects the exact
rule, which refuses a labeled set too small for it; `--risk LEVEL` writes risk-controlled masks instead; `--masks` selects
the mask folder of a VOC layout; without `--labeler` nothing is
written. The command exists after `pip install -e .`.
"""
import json, shlex, shutil, sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import run_cli
from conformalsam.core import LOCK


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    from conformalsam.data import make_synthetic
    return make_synthetic(tmp_path_factory.mktemp('cli') / 'synth', n_train=32, n_val=4, size=32, seed=2)


def _args(root, split, work, *extra):
    return [root, root / f'splits/{split}/labeled.txt', root / f'splits/{split}/unlabeled.txt', work / 'cache',
            work / 'out', '--labeler', 'simulated', '--grid', '8', *extra]


def test_success_exits_0_and_chains(root, tmp_path):
    cmd = ' '.join(shlex.quote(str(a)) for a in ['conformalsam_pseudo', *_args(root, '1_4', tmp_path, '--alpha', '0.25')])
    p = run_cli('bash', '-c', f'{cmd} && echo CHAINED')
    assert p.returncode == 0 and 'CHAINED' in p.stdout, p.stdout[-2000:] + p.stderr[-3000:]
    out = tmp_path / 'out'
    assert len(list(out.glob('*.png'))) == 24 and [f.name for f in out.glob('.*')] == [LOCK]  # the empty lock file stays
    info, rep = json.loads((out / 'pseudo.json').read_text()), json.loads((out / 'report.json').read_text())
    assert (info['alpha'], info['clip'], info['simulated']) == (0.25, True, True)
    assert rep['clip'] is True and 0 < rep['labeled_fraction'] <= 1 and 'abstained_fraction' in rep


def test_clip_accepts_a_small_labeled_set(root, tmp_path):
    # 1/16: 2 labeled images; the exact rule needs 19 at alpha = 0.05 and is refused before anything is written
    p = run_cli('conformalsam_pseudo', *_args(root, '1_16', tmp_path, '--alpha', '0.05', '--no-clip'))
    assert p.returncode == 2 and 'n=2 labeled images are too few' in p.stderr, p.stderr[-3000:]
    assert not (tmp_path / 'cache').exists() and not (tmp_path / 'out').exists()
    p = run_cli('conformalsam_pseudo', *_args(root, '1_16', tmp_path, '--alpha', '0.05'))
    assert p.returncode == 0, p.stderr[-3000:]
    info = json.loads((tmp_path / 'out/pseudo.json').read_text())
    assert info['clip'] is True and len(list((tmp_path / 'out').glob('*.png'))) == 30


def test_masks_folder(root, tmp_path):
    aug = tmp_path / 'aug'
    shutil.copytree(root, aug)
    voc = aug / 'VOCdevkit/VOC2012'
    (voc / 'SegmentationClass').rename(voc / 'SegmentationClassAug')  # the SBD-augmented layout's folder only
    p = run_cli('conformalsam_pseudo', *_args(aug, '1_4', tmp_path, '--alpha', '0.25', '--masks', 'SegmentationClass'))
    assert p.returncode == 2 and 'SegmentationClass' in p.stderr and 'Traceback' not in p.stderr
    # by default the fraction split's folder name selects SegmentationClassAug where it exists (data.mask_folder)
    p = run_cli('conformalsam_pseudo', *_args(aug, '1_4', tmp_path, '--alpha', '0.25'))
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / 'out/report.json').read_text())['n_with_gt'] == 24


def test_risk_writes_risk_controlled_masks(root, tmp_path):
    "`--risk LEVEL`: the labeler's argmax where conformal risk control's threshold keeps it; the same cache as CP."
    p = run_cli('conformalsam_pseudo', *_args(root, '1_2', tmp_path, '--risk', '0.2'))
    assert p.returncode == 0, p.stderr[-3000:]
    info = json.loads((tmp_path / 'out/pseudo.json').read_text())
    rep = json.loads((tmp_path / 'out/report.json').read_text())
    assert (info['rule'], info['risk'], info['risk_threshold']['n']) == ('risk', 0.2, 16)
    assert rep['rule'] == 'risk' and 0 < rep['labeled_fraction'] <= 1 and '"rule": "risk"' in p.stdout
    assert len(list((tmp_path / 'out').glob('*.png'))) == 16

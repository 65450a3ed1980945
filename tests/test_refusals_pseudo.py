"""Bad-input catalogue of the pseudo-label pipeline and of `conformalsam_pseudo`: format in `refusals.py`.

The labeled set and the settings are checked before the labeler runs (the `Guarded` labeler raises if it is called),
every map the labeler gives is checked before it is cached, and the command refuses before it loads a model.
"""
import json, shutil, sys
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import CLI, cases, check, run_cli
from conformalsam.data import make_synthetic, open_dataset
from conformalsam.labelers import MapsLabeler, export_maps
from conformalsam.simulated import SimulatedLabeler
from conformalsam.streaming import Calibration
from conformalsam.pseudo import PseudoLabels


class Guarded(SimulatedLabeler):
    "The simulated labeler, which must not be called: the refusal has to come first."
    def predict(self, images, classes): raise RuntimeError("the labeler was called before the refusal")


class Tampered(SimulatedLabeler):
    "The simulated labeler with the maps of image `stem` replaced by `bad(maps)`."
    def __init__(self, datasets, stem, bad): super().__init__(datasets); self.stem, self.bad = stem, bad
    def predict(self, images, classes):
        return [self.bad(p) if Path(i).stem == self.stem else p for i, p in zip(images, super().predict(images, classes))]


def _rewrite_maps(f, change):
    "Rewrite the maps file `f` with `change(probs)`, keeping its metadata (as a broken exporter could)."
    with safe_open(str(f), framework='pt') as s: meta, probs = s.metadata(), s.get_tensor('probs')
    save_file({'probs': change(probs.float()).half().contiguous()}, str(f), metadata=meta)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('pseudo')
    root = make_synthetic(d / 'synth', n_train=32, n_val=4, size=32, seed=3)
    split = lambda r, s: root / f'splits/1_{r}/{s}.txt'
    lab, unl = open_dataset(root, split(4, 'labeled')), open_dataset(root, split(4, 'unlabeled'))
    e = SimpleNamespace(d=d, root=root, split=split, lab=lab, unl=unl, victim=unl.items[3])
    e.lab16, e.unl16 = open_dataset(root, split(16, 'labeled')), open_dataset(root, split(16, 'unlabeled'))
    # a copy of the dataset where one labeled mask has another size than its image
    shutil.copytree(root, d / 'resized')
    e.lab_rs = open_dataset(d / 'resized', d / 'resized/splits/1_4/labeled.txt')
    e.unl_rs = open_dataset(d / 'resized', d / 'resized/splits/1_4/unlabeled.txt')
    m = e.lab_rs.items[1].mask
    im = Image.open(m); im.load(); im.crop((0, 0, 30, 32)).save(m)
    e.bad_mask = m
    # a copy of the dataset where one unlabeled image is an empty (zero-byte) file
    shutil.copytree(root, d / 'zero')
    e.zero = d / 'zero' / unl.items[2].image.relative_to(root)
    e.zero.write_bytes(b'')
    # SEEM-style maps of every image, one of them NaN, one with an extra channel (its metadata still says K classes)
    e.maps = d / 'maps'
    for ds in (lab, unl): export_maps(SimulatedLabeler([lab, unl]), ds, e.maps, bs=8)
    shutil.copytree(e.maps, d / 'maps_k1')
    _rewrite_maps(e.maps / f'{e.victim.image.stem}.safetensors', lambda p: p.masked_fill(torch.rand(p.shape) < .01, float('nan')))
    _rewrite_maps(d / 'maps_k1' / f'{e.victim.image.stem}.safetensors', lambda p: torch.cat([p, p[:1]]))
    # a cache of the older format (a pickled calibrator)
    (d / 'old').mkdir()
    (d / 'old/manifest.json').write_text(json.dumps(dict(labeler='x', hash='0123456789abcdef')))
    (d / 'old/calibrator.pt').write_bytes(b'pickle')
    # a cache of the previous format (no loss counts for risk control)
    (d / 'old_v2').mkdir()
    (d / 'old_v2/manifest.json').write_text(json.dumps(dict(format='conformalsam-pseudo-v2', hash='0123456789abcdef')))
    # labeled maps of their GT classes only (form 'calib'): the labeler's argmax on them is unknown
    export_maps(SimulatedLabeler([lab, unl]), lab, d / 'maps_calib', form='calib', bs=8)
    export_maps(SimulatedLabeler([lab, unl]), unl, d / 'maps_calib', form='stats', bs=8)
    (d / 'afile').write_text('not a folder')
    (d / 'badman').mkdir()
    (d / 'badman/manifest.json').write_text('{"labeler": "x", "ha')  # cut short, as by a full disk
    # a copy of the dataset whose labeled masks hold no label at all (every pixel 255)
    shutil.copytree(root, d / 'blank')
    e.lab_blank = open_dataset(d / 'blank', d / 'blank/splits/1_4/labeled.txt')
    e.unl_blank = open_dataset(d / 'blank', d / 'blank/splits/1_4/unlabeled.txt')
    for it in e.lab_blank.items:
        m = Image.open(it.mask); Image.fromarray(np.full(m.size[::-1], 255, np.uint8)).save(it.mask)
    nobg = make_synthetic(d / 'nobg', n_train=16, n_val=2, size=32, num_classes=5, background=False, seed=1)
    e.nobg_args = [nobg, nobg / 'splits/1_2/labeled.txt', nobg / 'splits/1_2/unlabeled.txt']
    return e


def _pl(e, folder, labeler=None, lab=None, unl=None, **kw):
    lab, unl = lab or e.lab, unl or e.unl
    spec = Calibration(**dict(dict(alpha=0.25, grid=8, clip=False), **kw))
    return PseudoLabels(e.d / folder, labeler or Guarded([lab, unl]), lab, unl, spec)


def _with_memory(nbytes, f):
    "`f()` while the system reports `nbytes` of available memory (`pseudo.available_memory`)."
    import conformalsam.pseudo as P
    real, P.available_memory = P.available_memory, lambda: nbytes
    try: return f()
    finally: P.available_memory = real


def _run_bad_maps(e, folder, bad):
    return _pl(e, folder, Tampered([e.lab, e.unl], e.victim.image.stem, bad)).run()


def _cli(e, *args, labeler=('--labeler', 'simulated'), root=None, lab=4):
    r = root or e.root
    return run_cli('conformalsam_pseudo', r, e.split(lab, 'labeled'), e.split(lab, 'unlabeled'), e.d / 'cli_cache',
                   e.d / 'cli_out', *labeler, '--grid', '8', *args)


def _image(e): return str(e.victim.image)


def _damaged_stats(e, folder, damage):
    "A finished cache whose first unlabeled image's stats file is rewritten by `damage(path)`; read its labels."
    pl = _pl(e, folder, SimulatedLabeler([e.lab, e.unl])).run()
    damage(pl.stats_path(pl.item(0)))
    return pl.labels(0)


def _cropped(f):
    "Rewrite the stats file `f` with every map cropped to 16x16 (its metadata kept: only the size is wrong)."
    with safe_open(str(f), framework='pt') as s: meta, st = s.metadata(), {k: s.get_tensor(k) for k in s.keys()}
    save_file({k: v[..., :16, :16].contiguous() for k, v in st.items()}, str(f), metadata=meta)


CASES = [
    ('labeled set too small for alpha', lambda e: _pl(e, 'c_small', lab=e.lab16, unl=e.unl16, alpha=0.05), ValueError,
     'n=2 labeled images are too few for alpha=0.05'),
    ('labeled mask of another size', lambda e: _pl(e, 'c_rs', lab=e.lab_rs, unl=e.unl_rs).run(), ValueError,
     lambda e: str(e.bad_mask)),
    ('maps with NaN', lambda e: _run_bad_maps(e, 'c_nan', lambda p: p.masked_fill(torch.rand(p.shape) < .01, float('nan'))),
     ValueError, _image),
    ('cli zero-byte unlabeled image', lambda e: _cli(e, root=e.d / 'zero'), CLI, lambda e: f"cannot read image {e.zero}"),
    ('maps above 1', lambda e: _run_bad_maps(e, 'c_hi', lambda p: p * 2), ValueError, _image),
    ('maps above 1 says by how much', lambda e: _run_bad_maps(e, 'c_hi2', lambda p: p * 2), ValueError, 'outside; up to 1e-05'),
    ('damaged cache manifest', lambda e: _pl(e, 'badman').run(), ValueError, lambda e: f"manifest {e.d / 'badman/manifest.json'} is damaged"),
    ('truncated cache stats file', lambda e: _damaged_stats(e, 'c_trunc', lambda f: f.write_bytes(f.read_bytes()[:40])), ValueError,
     lambda e: str(e.d / 'c_trunc/stats')),
    ('cache stats file of the wrong size', lambda e: _damaged_stats(e, 'c_crop', _cropped), ValueError, 'but its image is 32x32'),
    ('labeled masks without any label', lambda e: _pl(e, 'c_blank', lab=e.lab_blank, unl=e.unl_blank).run(), ValueError,
     'nothing to calibrate on'),
    ('maps with K+1 channels', lambda e: _run_bad_maps(e, 'c_k1', lambda p: torch.cat([p, p[:1]])), ValueError, _image),
    ('maps of an integer dtype', lambda e: _run_bad_maps(e, 'c_int', lambda p: (p > .5).to(torch.uint8)), ValueError,
     _image),
    ('maps of another size', lambda e: _run_bad_maps(e, 'c_size', lambda p: p[:, :20]), ValueError, _image),
    ('maps file with NaN', lambda e: _pl(e, 'c_mnan', MapsLabeler(e.maps)).run(), ValueError,
     lambda e: str(e.maps/f'{e.victim.image.stem}.safetensors')),
    ('maps file with an extra channel', lambda e: _pl(e, 'c_mk1', MapsLabeler(e.d / 'maps_k1')).run(), ValueError,
     'expected [K=8'),
    ('unwritable cache folder', lambda e: _pl(e, '/proc/conformalsam_cache'), PermissionError, '/proc/conformalsam_cache'),
    ('cache folder under a file', lambda e: _pl(e, 'afile/cache'), NotADirectoryError, lambda e: str(e.d / 'afile')),
    ('output folder under a file', lambda e: _pl(e, 'c_out', SimulatedLabeler([e.lab, e.unl])).run()
     .write_masks(e.d / 'afile/masks'), NotADirectoryError, lambda e: str(e.d / 'afile')),
    ('cache of the older format', lambda e: _pl(e, 'old').run(), ValueError, 'older format'),
    ('read at an alpha the cache cannot give', lambda e: _pl(e, 'c_out', SimulatedLabeler([e.lab, e.unl])).run()
     .labels(0, 0.4), ValueError, 'read quantiles at alpha <= 0.25'),
    ('cache of the format before risk control', lambda e: _pl(e, 'old_v2').run(), ValueError, 'no loss counts'),
    ('risk level infeasible with the labeled set', lambda e: _pl(e, 'c_out', SimulatedLabeler([e.lab, e.unl])).run()
     .write_masks(e.d / 'risk_masks', risk=0.1), ValueError, 'infeasible with n=8 calibration images'),
    ('risk level outside (0, 1)', lambda e: _pl(e, 'c_out', SimulatedLabeler([e.lab, e.unl])).run()
     .labels(0, risk=1.5), ValueError, 'level=1.5'),
    ('calibration risk outside (0, 1)', lambda e: Calibration(risk=0), ValueError, 'risk=0'),
    ('risk control from GT-only labeled maps', lambda e: _pl(e, 'c_rcalib', MapsLabeler(e.d / 'maps_calib')).run()
     .risk_threshold(0.2), ValueError, "form 'calib'"),
    ('cli --risk infeasible with the labeled set', lambda e: _cli(e, '--risk', '0.1'), CLI,
     'infeasible with n=8 calibration images'),
    ('cli --risk outside (0, 1)', lambda e: _cli(e, '--risk', '1.5'), CLI, 'risk=1.5'),
    ('cli --risk not a number', lambda e: _cli(e, '--risk', 'abc'), CLI, "'abc'"),
    ('cli without --labeler', lambda e: _cli(e, labeler=()), CLI, '--labeler is required'),
    ('cli without --labeler shows the SEEM export', lambda e: _cli(e, labeler=()), CLI, 'python seem_export.py'),
    ('cli with an unknown labeler', lambda e: _cli(e, labeler=('--labeler', 'seem')), CLI, "'seem' is not one of"),
    ('cli alpha not a number', lambda e: _cli(e, '--alpha', 'abc'), CLI, "'abc'"),
    ('images larger than the memory available', lambda e: _with_memory(1000, lambda: _pl(e, 'c_mem').run()),
     MemoryError, lambda e: f"{e.lab.items[0].image.parent}"),
    ('cli labeled set too small', lambda e: _cli(e, '--alpha', '0.05', '--no-clip', lab=16), CLI, 'or clip=True'),
    ('cli unwritable output folder', lambda e: run_cli('conformalsam_pseudo', e.root, e.split(4, 'labeled'),
     e.split(4, 'unlabeled'), e.d / 'cli_cache', '/proc/conformalsam_out', '--labeler', 'simulated'), CLI,
     '/proc/conformalsam_out'),
    ('cli --masks on a layout without mask folders', lambda e: run_cli('conformalsam_pseudo', *e.nobg_args,
     e.d / 'nobg_cache', e.d / 'nobg_out', '--labeler', 'simulated', '--masks', 'SegmentationClassAug'), CLI,
     '--masks SegmentationClassAug'),
]


@cases(CASES)
def test_refused(case, env): check(case, env)


def test_nothing_of_a_refused_image_is_cached_and_a_repair_completes(env):
    "A NaN maps file is refused before it is cached; re-exporting it (same labeler id) lets the rerun complete."
    e, folder = env, env.d / 'repair'
    shutil.copytree(e.maps, e.d / 'maps_repair')
    with pytest.raises(ValueError, match=e.victim.image.stem): _pl(e, 'repair', MapsLabeler(e.d / 'maps_repair')).run()
    assert not (folder / 'stats' / f'{e.victim.image.stem}.safetensors').exists()
    (e.d / 'maps_repair' / f'{e.victim.image.stem}.safetensors').unlink()
    export_maps(SimulatedLabeler([e.lab, e.unl]), e.unl, e.d / 'maps_repair')  # re-exports the missing file only
    pl = _pl(e, 'repair', MapsLabeler(e.d / 'maps_repair')).run()
    assert len(list((folder / 'stats').glob('*.safetensors'))) == len(e.unl)
    assert pl.labels(e.victim.image.stem).shape == (32, 32)


def test_float_rounding_above_1_is_accepted(env):
    "Maps that leave [0, 1] by float rounding (a labeler's own softmax: 1.0000001) are clamped and cached."
    pl = _run_bad_maps(env, 'c_round', lambda p: torch.where(p > 0.5, p * (1 + 5e-7) + 1e-7, p))
    assert pl.labels(env.victim).shape == tuple(np.asarray(Image.open(env.victim.image)).shape[:2])

"""The data area's bad-input catalogue (format: `tests/refusals.py`): split files and split names, the readers and
their mask folders, SBD files, and the console scripts `conformalsam_check` and `conformalsam_sbd`."""
import shutil
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest
import scipy.sparse
from PIL import Image
from scipy.io import savemat
from refusals import CLI, run_cli, cases, check
from conformalsam.data import read_split, split_entries, open_dataset, open_split, voc_dataset, image_size
from conformalsam.prepare import read_sbd_mat
from conformalsam.synthetic import make_synthetic


def write_sbd_mat(path, seg):
    "An SBD `cls` file: a struct GTcls with SBD's fields Boundaries, Segmentation and CategoriesPresent."
    edges = np.empty((20, 1), dtype=object)
    for k in range(20): edges[k, 0] = scipy.sparse.csc_matrix(np.shape(seg), dtype=bool)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {'GTcls': {'Boundaries': edges, 'Segmentation': np.asarray(seg, np.uint8),
                             'CategoriesPresent': np.array([1], np.uint8)}})


def write_devkit(root, fine, sbd_only):
    "A standard VOCdevkit: `fine` images with a mask in SegmentationClass, `sbd_only` images without one."
    v = Path(root)/'VOCdevkit/VOC2012'
    for d in ('JPEGImages', 'SegmentationClass'): (v/d).mkdir(parents=True, exist_ok=True)
    for i in fine + sbd_only: Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(v/'JPEGImages'/f'{i}.jpg')
    for i in fine: Image.fromarray(np.ones((4, 6), np.uint8)).save(v/'SegmentationClass'/f'{i}.png')
    return Path(root)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')
    root = make_synthetic(d/'synth', n_train=16, n_val=4, size=32, seed=0)
    lab, unl = read_split(root/'splits/1_4/labeled.txt'), read_split(root/'splits/1_4/unlabeled.txt')
    bad = d/'bad'; shutil.copytree(root, bad)
    v = bad/'VOCdevkit/VOC2012'
    (v/lab[0][0]).unlink()                                                        # a missing image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(v/lab[1][1])                 # a mask of the wrong size
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(v/lab[2][1])            # colours, not class indices
    Image.fromarray(np.full((32, 32), 30, np.uint8)).save(v/lab[3][1])            # values outside the 8 classes
    (v/unl[0][0]).write_bytes((v/unl[0][0]).read_bytes()[:300])                   # a truncated image
    (d/'repeat.txt').write_text('\n'.join(' '.join(e) for e in (lab[0], lab[1], lab[0])) + '\n')
    (d/'three.txt').write_text(' '.join(lab[0]) + '\n' + ' '.join(lab[1]) + ' extra\n')
    (d/'empty.txt').write_text('\n\n')
    (d/'outside.txt').write_text(' '.join(lab[1]) + '\n../secret/a.jpg SegmentationClass/a.png\n')   # leaves the root
    (d/'absolute.txt').write_text('/JPEGImages/a.jpg /SegmentationClass/a.png\n')                  # DeepLab-style
    (d/'latin1.txt').write_bytes('JPEGImages/caf\xe9.jpg\n'.encode('latin-1'))                      # neither UTF-8 nor 16
    (v/unl[1][0]).write_bytes(b'')                                                # a zero-byte image
    (d/'weird/stuff').mkdir(parents=True)
    (d/'plain/images').mkdir(parents=True)
    std = write_devkit(d/'standard', ['2007_000032'], ['2008_000002'])
    sbd_entry = ('JPEGImages/2008_000002.jpg', 'SegmentationClass/2008_000002.png')   # as the VOC lists name it
    sbd = {}
    for kind, seg in (('good', np.ones((4, 6))), ('values', np.full((4, 6), 40))):
        write_sbd_mat(d/f'sbd_{kind}/dataset/cls/2008_000002.mat', seg); sbd[kind] = d/f'sbd_{kind}'
    savemat(d/'sbd_nogt.mat', {'GTinst': {'Segmentation': np.ones((4, 6), np.uint8)}})
    (d/'sbd_trunc/dataset/cls').mkdir(parents=True)
    (d/'sbd_trunc/dataset/cls/2008_000002.mat').write_bytes((sbd['good']/'dataset/cls/2008_000002.mat').read_bytes()[:150])
    copies = iter(range(100))
    def fresh():  # a new copy of the standard devkit for each conversion
        return shutil.copytree(std, d/f'standard_{next(copies)}')
    return SimpleNamespace(d=d, root=root, splits=root/'splits', bad=bad, lab=lab, unl=unl, std=std,
                           sbd_entry=sbd_entry, sbd=sbd, fresh=fresh)


name = lambda p: Path(p).name
CASES = [
    ('repeated image in a split file', lambda e: read_split(e.d/'repeat.txt'), ValueError, lambda e: f"{e.lab[0][0]} 2 times (lines 1, 3)"),
    ('repeated image in a list of entries', lambda e: voc_dataset(e.root, [e.lab[0], e.lab[0]]), ValueError, '2 times (entries 1, 2)'),
    ('split file that does not exist', lambda e: read_split(e.d/'nope.txt'), FileNotFoundError, 'nope.txt'),
    ('split line with three fields', lambda e: read_split(e.d/'three.txt'), ValueError, lambda e: f"{e.d/'three.txt'}:2"),
    ('split file without entries', lambda e: read_split(e.d/'empty.txt'), ValueError, lambda e: str(e.d/'empty.txt')),
    ('unknown split name', lambda e: split_entries('voc', '1_3', 'labeled'), ValueError, "'1_3'"),
    ('unknown split name lists the names', lambda e: split_entries('voc', '1_3', 'labeled'), ValueError, "'u2pl_1_2'"),
    ('unknown split name in a splits_dir', lambda e: split_entries('voc', '92', 'labeled', e.splits), ValueError, lambda e: str(e.splits)),
    ('split lists of an unknown dataset', lambda e: split_entries('pascal', '92', 'labeled'), ValueError, "'pascal'"),
    ('partition without its part', lambda e: split_entries('voc', '92'), ValueError, 'not None'),
    ('missing image', lambda e: voc_dataset(e.bad, [e.lab[0]]), FileNotFoundError, lambda e: name(e.lab[0][0])),
    ('mask of the wrong size', lambda e: voc_dataset(e.bad, [e.lab[1]])[0], ValueError, lambda e: name(e.lab[1][1])),
    ('RGB mask', lambda e: voc_dataset(e.bad, [e.lab[2]])[0], ValueError, lambda e: name(e.lab[2][1])),
    ('mask values outside the classes', lambda e: voc_dataset(e.bad, [e.lab[3]])[0], ValueError, lambda e: f"{name(e.lab[3][1])} (index encoding) has values [30]"),
    ('truncated image', lambda e: voc_dataset(e.bad, [e.unl[0]])[0], ValueError, lambda e: name(e.unl[0][0])),
    ('zero-byte image', lambda e: voc_dataset(e.bad, [e.unl[1]])[0], ValueError, lambda e: name(e.unl[1][0])),
    ('zero-byte image, header only', lambda e: image_size(e.bad/'VOCdevkit/VOC2012'/e.unl[1][0]), ValueError, lambda e: name(e.unl[1][0])),
    ('split entry leaving the root', lambda e: read_split(e.d/'outside.txt'), ValueError, lambda e: f"{e.d/'outside.txt'}:2: entry '../secret/a.jpg'"),
    ('absolute split entry', lambda e: read_split(e.d/'absolute.txt'), ValueError, lambda e: f"{e.d/'absolute.txt'}:1: entry '/JPEGImages/a.jpg'"),
    ('entries given as a list leaving the root', lambda e: voc_dataset(e.root, [e.lab[0], ('../x.jpg', 'x.png')]), ValueError, "entry 2 of the split: entry '../x.jpg'"),
    ('split file neither UTF-8 nor UTF-16', lambda e: read_split(e.d/'latin1.txt'), ValueError, lambda e: f"{e.d/'latin1.txt'} is not UTF-8 or UTF-16"),
    ('check: split entry leaving the root', lambda e: run_cli('conformalsam_check', e.root, e.d/'outside.txt'), CLI, 'points outside the dataset root'),
    ('unknown layout', lambda e: open_dataset(e.d/'weird', 'x.txt'), ValueError, lambda e: str(e.d/'weird')),
    ('forced layout that does not exist', lambda e: open_dataset(e.root, e.splits/'val.txt', layout='pascal'), ValueError, "'pascal'"),
    ('dataset root that does not exist', lambda e: open_dataset(e.d/'nowhere', 'x.txt'), FileNotFoundError, 'nowhere'),
    ('mask folder that does not exist', lambda e: voc_dataset(e.root, e.splits/'val.txt', masks='SegmentationClassAug'), FileNotFoundError, 'SegmentationClassAug'),
    ('unknown labels policy', lambda e: open_dataset(e.root, e.splits/'val.txt', labels='all'), ValueError, "labels='all'"),
    ('SBD image required to have a mask on a standard devkit', lambda e: voc_dataset(e.std, [e.sbd_entry]), FileNotFoundError, '2008_000002.png'),
    ('split by name on a plain image folder', lambda e: open_split(e.d/'plain', '1_4', 'labeled'), ValueError, lambda e: f"{e.d/'plain'} is a folder dataset"),
    ('SBD file with values outside the classes', lambda e: read_sbd_mat(e.sbd['values']/'dataset/cls/2008_000002.mat'), ValueError, 'has values [40]'),
    ('SBD file without GTcls', lambda e: read_sbd_mat(e.d/'sbd_nogt.mat'), ValueError, 'sbd_nogt.mat'),
    ('truncated SBD file', lambda e: read_sbd_mat(e.d/'sbd_trunc/dataset/cls/2008_000002.mat'), ValueError, 'sbd_trunc'),
    ('check: root that does not exist', lambda e: run_cli('conformalsam_check', e.d/'nowhere', '92'), CLI, 'nowhere'),
    ('check: unknown split name', lambda e: run_cli('conformalsam_check', e.root, '1_3', '--splits_dir', e.splits), CLI, "'1_3'"),
    ('check: split file that does not exist', lambda e: run_cli('conformalsam_check', e.root, e.d/'nope.txt'), CLI, 'nope.txt'),
    ('check: repeated image', lambda e: run_cli('conformalsam_check', e.root, e.d/'repeat.txt'), CLI, '2 times (lines 1, 3)'),
    ('check: a bad mask in the split', lambda e: run_cli('conformalsam_check', e.bad, '1_4', '--splits_dir', e.splits), CLI, lambda e: name(e.lab[3][1])),
    ('check: unknown layout', lambda e: run_cli('conformalsam_check', e.d/'weird', '92'), CLI, 'unknown dataset layout'),
    ('sbd: SBD folder that does not exist', lambda e: run_cli('conformalsam_sbd', e.d/'no_sbd', e.fresh()), CLI, 'no_sbd'),
    ('sbd: no cls folder', lambda e: run_cli('conformalsam_sbd', e.std, e.fresh()), CLI, 'no SBD class masks'),
    ('sbd: not a VOC folder', lambda e: run_cli('conformalsam_sbd', e.sbd['good'], e.d/'weird'), CLI, 'is not a VOC2012 folder'),
    ('sbd: values outside the classes', lambda e: run_cli('conformalsam_sbd', e.sbd['values'], e.fresh()), CLI, '2008_000002.mat: GTcls.Segmentation has values [40]'),
    ('sbd: unreadable .mat', lambda e: run_cli('conformalsam_sbd', e.d/'sbd_trunc', e.fresh(), '--sbd_only'), CLI, 'cannot read SBD file'),
]

@cases(CASES)
def test_refused(case, env): check(case, env)

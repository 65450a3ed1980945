"""Bad-input catalogue of the labelers and their maps files (format: tests/refusals.py): each refused early, naming the culprit."""
import json, types
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from refusals import cases, check
from conformalsam.data import make_synthetic, open_dataset
from conformalsam.maps import MAPS_FORMAT, save_maps
from conformalsam.labelers import MapsLabeler, ClipSegLabeler, Sam3Labeler, GroundedSamLabeler
from conformalsam.factory import make_labeler
from conformalsam.simulated import SimulatedLabeler, FailureModes
from conformalsam.seem_export import write_maps


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    "A tiny synthetic dataset, one maps folder per kind of bad maps file, and a tiny Grounded-SAM."
    from conformalsam.testing import tiny_grounded_sam
    tmp = tmp_path_factory.mktemp('labelers')
    root = make_synthetic(tmp/'synth', n_train=16, n_val=2, size=24, seed=0)
    ds = open_dataset(root, root/'splits/val.txt')
    e = types.SimpleNamespace(tmp=tmp, ds=ds, image=ds.items[0].image, classes=ds.info.classes, K=ds.info.num_classes)
    def bad(name, probs, **meta): # a maps folder holding one file written without `save_maps`'s checks
        f = tmp/name/f'{e.image.stem}.safetensors'; f.parent.mkdir()
        save_file({'probs': probs}, str(f), metadata={'format': MAPS_FORMAT, 'classes': json.dumps(list(meta.get('classes', e.classes)))})
        return f
    K = e.K
    e.maps = dict(k=bad('k', torch.rand(K + 1, 24, 24), classes=list(e.classes) + ['extra']),
                  nan=bad('nan', torch.full((K, 24, 24), float('nan'))),
                  big=bad('big', torch.full((K, 24, 24), 1.5)),
                  dtype=bad('dtype', torch.ones(K, 24, 24, dtype=torch.int32)),
                  size=bad('size', torch.rand(K, 20, 24)),
                  shape=bad('shape', torch.rand(K - 1, 24, 24)))
    e.det, e.seg = tiny_grounded_sam(tmp/'gsam')
    return e

def maps_of(kind): return lambda e: MapsLabeler(e.maps[kind].parent).predict([e.image], e.classes)
def named(kind): return lambda e: e.maps[kind].name

CASES = [
    ('unknown labeler kind', lambda e: make_labeler('seem'), ValueError, "'seem' is not one of simulated, maps, sam3, clipseg, grounded_sam"),
    ('no labeler kind', lambda e: make_labeler(None), ValueError, 'None is not one of simulated, maps'),
    ('maps without a folder', lambda e: make_labeler('maps'), ValueError, '--model MAPS_FOLDER'),
    ('model dtype unknown', lambda e: make_labeler('sam3', dtype='int8'), ValueError, "'int8'"),
    ('simulated given a model', lambda e: make_labeler('simulated', 'facebook/sam3', [e.ds]), ValueError, "model='facebook/sam3'"),
    ('clipseg not downloaded, offline', lambda e: ClipSegLabeler(device='cpu'), OSError, "'CIDAS/clipseg-rd64-refined'"),
    ('sam3 not downloaded, offline', lambda e: make_labeler('sam3'), OSError, "'facebook/sam3'"),
    ('grounding dino not downloaded, offline', lambda e: GroundedSamLabeler(device='cpu'), OSError, "'IDEA-Research/grounding-dino-tiny'"),
    ('sam of grounded-sam not downloaded', lambda e: GroundedSamLabeler(e.det, 'facebook/sam-vit-base', device='cpu'), OSError, "'facebook/sam-vit-base'"),
    ('model folder missing', lambda e: Sam3Labeler(e.tmp/'no-such-model', device='cpu'), OSError, 'no-such-model'),
    ('maps folder missing', lambda e: make_labeler('maps', str(e.tmp/'no-maps')), FileNotFoundError, 'no-maps'),
    ('maps file missing', lambda e: MapsLabeler(e.maps['k'].parent).predict([e.ds.items[1].image], e.classes), FileNotFoundError,
     lambda e: f'{e.ds.items[1].image.stem}.safetensors'),
    ('maps with an extra class', maps_of('k'), ValueError, named('k')),
    ('maps with K-1 channels', maps_of('shape'), ValueError, named('shape')),
    ('maps with NaN', maps_of('nan'), ValueError, named('nan')),
    ('maps above 1', maps_of('big'), ValueError, named('big')),
    ('maps of integers', maps_of('dtype'), ValueError, named('dtype')),
    ('maps of the wrong size', maps_of('size'), ValueError, named('size')),
    ('saving NaN maps', lambda e: save_maps(e.tmp/'out'/'x.safetensors', np.full((2, 3, 3), np.nan), ['a', 'b']), ValueError, 'x.safetensors'),
    ('SEEM script writing NaN maps', lambda e: write_maps(e.tmp/'out'/'s.safetensors', torch.full((2, 3, 3), float('nan')), ['a', 'b'], ['a', 'b'], 'seem'),
     ValueError, 's.safetensors'),
    ('simulated: image of another dataset', lambda e: SimulatedLabeler(e.ds)(e.tmp/'elsewhere.jpg', e.classes), ValueError, 'elsewhere.jpg'),
    ('simulated: other classes', lambda e: SimulatedLabeler(e.ds)(e.image, e.classes[:-1]), ValueError, 'simulates the classes'),
    ('simulated: miss above 1', lambda e: SimulatedLabeler(e.ds, failures=FailureModes(miss=1.5)), ValueError, 'miss=1.5'),
    ('simulated: no dataset', lambda e: make_labeler('simulated'), ValueError, 'at least one dataset'),
    ('simulated: unknown failure mode', lambda e: make_labeler('simulated', 'mis=0.3', [e.ds]), ValueError, "fields among ['miss'"),
    ('simulated: failure mode out of range', lambda e: make_labeler('simulated', 'miss=2', [e.ds]), ValueError, 'miss=2.0 must be in [0, 1]'),
]

@cases(CASES)
def test_refused(case, env): check(case, env)

"""A trained model folder loads anywhere, and predicts on the user's own images.

A tiny SegFormer is trained (`conformalsam.train.train`, the synthetic preset with the shipped `synthetic-tiny` encoder,
offline, 2 epochs); then:

- its folder loads with plain transformers (`SegformerForSemanticSegmentation.from_pretrained`), `id2label` naming the
  dataset's classes, and gives the same class maps as the package (`learner.predict_mask`);
- `write_model_card` writes its Hugging Face card from the run's `results.json` and from an experiment's record;
- `conformalsam_predict` (the console script) writes a palette PNG per image of a folder, with overlays, and a rerun
  rewrites nothing; a missing model folder is refused with one line and exit status 2.
"""
import json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

os.environ.setdefault('HF_HUB_OFFLINE', '1')
ENV = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', MPLBACKEND='Agg')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A finished tiny training run: (its folder, the dataset root)."
    from conformalsam.data import make_synthetic, SplitData
    from conformalsam.train import TrainConfig, train
    work = tmp_path_factory.mktemp('predict')
    root = make_synthetic(work/'synth', n_train=16, n_val=4, size=32, seed=0)
    data = SplitData(root, root/'splits/1_4', root/'splits/val.txt')
    cfg = TrainConfig.preset('synthetic', epochs=2, sr_epoch=None, crop=32, bs=4, lr=0.05, deterministic=True)
    train(data, work/'run', cfg, num_workers=0)
    return work/'run', root


def _classes(root):
    from conformalsam.data import open_dataset
    return open_dataset(root, root/'splits/val.txt').info.classes


def test_trained_folder_names_its_classes(run):
    from transformers import SegformerForSemanticSegmentation
    folder, root = run
    hf = SegformerForSemanticSegmentation.from_pretrained(folder/'model')
    classes = _classes(root)
    assert hf.config.id2label == dict(enumerate(classes))
    assert hf.config.label2id == {c: i for i, c in enumerate(classes)}


def test_plain_transformers_predicts_as_conformalsam(run):
    from transformers import SegformerForSemanticSegmentation
    from conformalsam.data import load_image
    from conformalsam.learner import predict_mask
    from conformalsam.predict import load_trained, images_of
    folder, root = run
    hf = SegformerForSemanticSegmentation.from_pretrained(folder/'model').eval()
    ours = load_trained(folder/'model')
    mean, std = (torch.tensor(s)[:, None, None] for s in ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    for p in images_of(root/'splits/val.txt', root):
        im = load_image(p)
        x = ((torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255 - mean) / std)[None]
        with torch.no_grad(): logits = hf(pixel_values=x).logits
        plain = F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False).argmax(1)[0]
        np.testing.assert_array_equal(plain.numpy().astype(np.uint8), predict_mask(ours, im))


def test_model_card(run, tmp_path):
    from conformalsam.model import write_model_card
    folder, root = run
    model = tmp_path/'model'; shutil.copytree(folder/'model', model)
    res = json.loads((folder/'results.json').read_text())
    card = write_model_card(model, res).read_text()
    front, body = card.split('---\n')[1], card.split('---\n', 2)[2]
    assert 'library_name: transformers' in front and '- "synth"' in front and 'SIMULATED' not in card
    assert f"| synth | 1_4 | supervised training | 0 | {100 * res['miou']:.2f} |" in card
    assert '"eval_mode": "whole"' in card and 'SegformerForSemanticSegmentation.from_pretrained' in card
    assert all(f'| {c} |' in card for c in _classes(root))
    rec = dict(dataset='voc', split='1_16', method='conformalsam', seed=2, miou=0.5, simulated=True,
               params=dict(train=dict(res['config'], arch='allspark')), iou_per_class={}, experiment={})
    card = write_model_card(model, rec).read_text()
    body = card.split('---\n', 2)[2]
    assert body.startswith('> **SIMULATED.**') and 'needs conformalsam' in card
    assert '| voc | 1_16 | conformalsam | 2 | 50.00 |' in card
    assert sorted(p.name for p in model.iterdir()) == ['README.md', 'config.json', 'model.safetensors']


def _cli(*args):
    exe = shutil.which('conformalsam_predict')
    if exe is None: pytest.fail("console script conformalsam_predict is not installed: run `pip install -e .`")
    return subprocess.run([exe, *map(str, args)], env=ENV, capture_output=True, text=True, timeout=300)


def test_console_script_on_a_folder(run, tmp_path):
    from conformalsam.core import LOCK
    from conformalsam.data import load_image
    from conformalsam.learner import predict_mask
    from conformalsam.predict import load_trained
    folder, root = run
    images = tmp_path/'images'; images.mkdir()
    for p in sorted(root.rglob('JPEGImages/*.jpg'))[:3]: shutil.copy(p, images/p.name)
    p = _cli(folder/'model', images, tmp_path/'pred', '--overlay')
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    masks = sorted((tmp_path/'pred').glob('*.png'))
    assert [m.stem for m in masks] == sorted(i.stem for i in images.iterdir())
    assert len(list((tmp_path/'pred/overlays').glob('*.jpg'))) == 3
    model = load_trained(folder/'model')
    for m in masks:
        assert Image.open(m).mode == 'P'
        np.testing.assert_array_equal(np.asarray(Image.open(m)), predict_mask(model, load_image(images/f'{m.stem}.jpg')))
    assert [f.name for f in (tmp_path/'pred').glob('.*')] == [LOCK]  # no temporary files left
    before = {m: m.stat().st_mtime_ns for m in masks}
    assert _cli(folder/'model', images, tmp_path/'pred', '--overlay').returncode == 0
    assert {m: m.stat().st_mtime_ns for m in masks} == before  # resumed: nothing rewritten


def test_console_script_refuses_a_missing_model_folder(run, tmp_path):
    folder, root = run
    p = _cli(tmp_path/'no_model', root/'splits/val.txt', tmp_path/'pred', '--root', root)
    assert p.returncode == 2 and 'Traceback' not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('conformalsam_predict: error: model folder')
    assert str(tmp_path/'no_model') in lines[0]

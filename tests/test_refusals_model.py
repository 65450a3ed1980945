"""Bad-input catalogue of the model and its pretrained encoder (format: tests/refusals.py): each refused early, naming the culprit."""
import sys, types
import pytest
import torch
from safetensors.torch import save_file
from transformers import SegformerConfig, SegformerModel, ViTConfig, ViTModel
from refusals import CLI, cases, check, run_cli
from conformalsam.model import SegFormer, segformer, segformer_config, pretrained_config, SYNTHETIC_ENCODER
from conformalsam.pretrain import PretrainRecipe, pretrain_encoder


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    "A tiny SegFormer encoder, a ViT, a SegFormer config with foreign weights and a folder without config.json."
    tmp = tmp_path_factory.mktemp('model')
    cfg = SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1])
    SegformerModel(cfg).save_pretrained(tmp/'seg')
    ViTModel(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8, image_size=16,
                       patch_size=8)).save_pretrained(tmp/'vit')
    (tmp/'foreign').mkdir(); (tmp/'foreign'/'config.json').write_text((tmp/'seg'/'config.json').read_text())
    save_file({'other.weight': torch.zeros(2)}, str(tmp/'foreign'/'model.safetensors'))
    (tmp/'empty').mkdir()
    return types.SimpleNamespace(tmp=tmp)

def py_m(*args): return run_cli(sys.executable, '-m', *args)

CASES = [
    ('pretrained folder missing', lambda e: segformer(3, 'b0', '/nonexistent'), FileNotFoundError, 'checkpoint folder /nonexistent does not exist'),
    ('pretrained Path missing', lambda e: segformer(3, 'b0', e.tmp/'nothere'), FileNotFoundError, lambda e: str(e.tmp/'nothere')),
    ('pretrained relative folder missing', lambda e: segformer(3, 'b0', './weights/nothere'), FileNotFoundError, './weights/nothere'),
    ('pretrained folder without config.json', lambda e: segformer(3, None, e.tmp/'empty'), FileNotFoundError, lambda e: f"{e.tmp/'empty'} has no config.json"),
    ('hub model missing offline', lambda e: segformer(3, 'b5', 'nvidia/mit-b7'), OSError, "'nvidia/mit-b7'"),
    ('hub config missing offline', lambda e: pretrained_config('someone/no-such-model'), OSError, "'someone/no-such-model'"),
    ('checkpoint of another architecture', lambda e: segformer(3, None, e.tmp/'vit'), ValueError, "is a 'vit' model (ViTModel), not a 'segformer' one"),
    ('checkpoint of another variant', lambda e: segformer(3, 'b0', SYNTHETIC_ENCODER), ValueError,
     'hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], but variant b0 has hidden_sizes=[32, 64, 160, 256]'),
    ('checkpoint without the encoder weights', lambda e: segformer(3, None, e.tmp/'foreign'), ValueError, lambda e: f"{str(e.tmp/'foreign')!r} lacks"),
    ('trained model folder missing', lambda e: SegFormer.from_pretrained('/nonexistent/model'), FileNotFoundError, '/nonexistent/model'),
    ('unknown variant', lambda e: segformer(3, 'b6', None), ValueError, "unknown SegFormer variant 'b6'"),
    ('variant None without checkpoint', lambda e: segformer(3, None, None), ValueError, 'variant=None'),
    ('one class', lambda e: segformer_config('tiny', 1), ValueError, 'num_classes must be an integer >= 2, got 1'),
    ('pretraining for 0 steps', lambda e: PretrainRecipe(steps=0), ValueError, 'steps=0'),
    ('pretraining scenes too small', lambda e: PretrainRecipe(sizes=(8,)), ValueError, 'sizes=(8,)'),
    ('pretraining an unknown variant', lambda e: pretrain_encoder(recipe=PretrainRecipe(variant='b9', steps=1)), ValueError, "'b9'"),
    ('pretraining command, 0 steps', lambda e: py_m('conformalsam.pretrain', e.tmp/'out', '--steps', '0'), CLI, 'steps=0'),
]

@cases(CASES)
def test_refused(case, env): check(case, env)

"""The bad-input catalogue of training (`conformalsam.train`, `conformalsam_train`): each case is refused before any
work, with its error type and a message naming the culprit (format: `tests/refusals.py`).

The fixture prepares the tiny inputs of `test_train_resume.py`, a finished run (`env.done`), an interrupted one
(`env.part`: checkpoints only) and a copy of it whose every checkpoint is corrupt (`env.corrupt`).
"""
import json, shutil, sys, tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from refusals import CLI, run_cli, cases, check
from test_train_resume import make_inputs, config
from conformalsam.data import SplitData
from conformalsam.train import TrainConfig, train


@pytest.fixture(scope='module')
def env():
    from fastai.callback.core import Callback, CancelFitException
    class StopAfterFirst(Callback):
        order = 80  # after the checkpoint of epoch 0
        def after_epoch(self): raise CancelFitException()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        root = work/'synth'
        e = SimpleNamespace(work=work, root=root, split=root/'splits/1_4', val=root/'splits/val.txt', pseudo=work/'pseudo',
                            cfg=config(work, epochs=2, sr_epoch=1, deterministic=False), file=work/'a_file')
        e.file.write_text('not a folder')
        e.data = lambda pseudo_dir=e.pseudo: SplitData(e.root, e.split, e.val, pseudo_dir=pseudo_dir)
        e.train = lambda out, cfg=None, pseudo_dir=e.pseudo, **k: train(e.data(pseudo_dir), out, cfg or e.cfg, **k)
        e.cli = lambda out, *flags: run_cli('conformalsam_train', e.root, e.split, e.val, out, '--pseudo_dir', e.pseudo,
                                            '--preset', 'synthetic', '--variant', 'none', '--pretrained', work/'mit-tiny',
                                            '--epochs', '2', '--sr_epoch', '1', '--crop', '32', '--lr', '0.1',
                                            '--head_lr_mult', '1', '--augment', 'allspark', '--num_workers', '0', *flags)
        e.done, e.part, e.corrupt = work/'done', work/'part', work/'corrupt'
        e.train(e.done, num_workers=0)
        e.train(e.part, num_workers=0, cbs=[StopAfterFirst()])
        shutil.copytree(e.part, e.corrupt)
        for c in (e.corrupt/'checkpoints').glob('epoch_*'):
            w = c/'model.safetensors'; w.write_bytes(w.read_bytes()[:64])
        e.linked = work/'linked'; e.linked.mkdir()  # its checkpoints folder is a link to another place
        (e.linked/'checkpoints').symlink_to(shutil.copytree(e.part/'checkpoints', work/'elsewhere'))
        yield e


CASES = [
    # the output folder's own parts must not be links elsewhere (a run deletes them): refused before anything is deleted
    ('symlinked checkpoints folder with --no_resume', lambda e: e.cli(e.linked, '--no_resume'), CLI,
     lambda e: f"{e.linked/'checkpoints'} is a symbolic link"),
    ('symlinked checkpoints folder', lambda e: e.train(e.linked, num_workers=0), ValueError, 'is a symbolic link'),
    # the configuration: refused when it is made
    ('epochs 0', lambda e: TrainConfig(epochs=0), ValueError, 'epochs=0: expected an integer >= 1'),
    ('epochs not a number', lambda e: TrainConfig(epochs='two'), ValueError, "epochs='two'"),
    ('sr_epoch after the last epoch', lambda e: TrainConfig(epochs=10, sr_epoch=12), ValueError, 'sr_epoch=12'),
    ('odd batch with Stage II', lambda e: TrainConfig(bs=3), ValueError, 'bs=3 cannot be split'),
    ('odd batch with AllSpark', lambda e: TrainConfig(bs=5, sr_epoch=None, arch='allspark'), ValueError, 'bs=5'),
    ('unknown variant', lambda e: TrainConfig(variant='b9'), ValueError, "variant='b9'"),
    ('unknown arch', lambda e: TrainConfig(arch='unet'), ValueError, "arch='unet'"),
    ('unknown augment', lambda e: TrainConfig(augment='strong'), ValueError, "augment='strong'"),
    ('unknown eval', lambda e: TrainConfig(eval='mean'), ValueError, "eval='mean'"),
    ('unknown eval mode', lambda e: TrainConfig(eval_mode='tiles'), ValueError, "eval_mode='tiles'"),
    ('lr not positive', lambda e: TrainConfig(lr=0), ValueError, 'lr=0: expected a number > 0'),
    ('lambda0 above 1', lambda e: TrainConfig(lambda0=1.5), ValueError, 'lambda0=1.5'),
    ('negative gamma', lambda e: TrainConfig(gamma=-0.1), ValueError, 'gamma=-0.1'),
    ('warm-up as long as the run', lambda e: TrainConfig(epochs=4, sr_epoch=3, warmup=4), ValueError, 'warmup=4'),
    ('unknown lr scaling', lambda e: TrainConfig(lr_scale='cubic'), ValueError, "lr_scale='cubic'"),
    ('stride without sliding windows', lambda e: TrainConfig(eval_stride=64), ValueError, 'eval_stride=64'),
    ('unknown preset', lambda e: TrainConfig.preset('kitti'), ValueError, "'kitti'"),
    ('unknown field', lambda e: TrainConfig.preset('voc', lrr=0.1), ValueError, "'lrr'"),
    # `train`: inputs and reruns, before any work
    ('pretrained path missing', lambda e: e.train(e.work/'x1', e.cfg.replace(pretrained='/nonexistent/mit')),
     FileNotFoundError, "'/nonexistent/mit' does not exist"),
    ('hub model missing offline', lambda e: e.train(e.work/'x2', e.cfg.replace(pretrained='nvidia/no-such-model')),
     FileNotFoundError, "'nvidia/no-such-model' is neither a local folder nor in the local Hugging Face cache"),
    ('out is a file', lambda e: e.train(e.file), NotADirectoryError, lambda e: str(e.file)),
    ('out cannot be written', lambda e: e.train('/proc/conformalsam_out'), PermissionError, '/proc/conformalsam_out'),
    ('pseudo-mask folder missing', lambda e: e.train(e.work/'x3', pseudo_dir=e.work/'no_masks'), FileNotFoundError,
     lambda e: str(e.work/'no_masks')),
    ('split file missing', lambda e: train(SplitData(e.root, e.root/'splits/1_3', e.val, pseudo_dir=e.pseudo), e.work/'x4', e.cfg),
     FileNotFoundError, '1_3/labeled.txt'),
    ('AllSpark without unlabeled images', lambda e: e.train(e.work/'x5', e.cfg.replace(arch='allspark', sr_epoch=None),
                                                            pseudo_dir=None), ValueError, "arch='allspark' trains on"),
    ('bad compile mode', lambda e: e.train(e.work/'x6', compile='fastest'), ValueError, "compile='fastest'"),
    ('finished run, other lr', lambda e: e.train(e.done, e.cfg.replace(lr=0.2)), ValueError, 'lr: 0.1 there, 0.2 now'),
    ('finished run, other masks', lambda e: e.train(e.done, pseudo_dir=None), ValueError, 'pseudo_dir:'),
    ('interrupted run, other crop', lambda e: e.train(e.part, e.cfg.replace(crop=48)), ValueError, 'crop: 32 there, 48 now'),
    ('interrupted run, other architecture', lambda e: e.train(e.part, e.cfg.replace(arch='allspark')), ValueError,
     "arch: 'segformer' there, 'allspark' now"),
    ('no intact checkpoint', lambda e: e.train(e.corrupt), ValueError,
     lambda e: str(e.corrupt/'checkpoints/epoch_000/model.safetensors')),
    # the console command (after `pip install -e .`): exit status != 0, the culprit in its output
    ('CLI epochs 0', lambda e: e.cli(e.work/'c1', '--epochs', '0'), CLI, "--epochs: '0': expected an integer >= 1"),
    ('CLI epochs not a number', lambda e: e.cli(e.work/'c2', '--epochs', 'two'), CLI, "'two': expected an integer >= 1"),
    ('CLI pretrained path missing', lambda e: e.cli(e.work/'c3', '--pretrained', '/nonexistent/mit'), CLI,
     "'/nonexistent/mit' does not exist"),
    ('CLI out is a file', lambda e: e.cli(e.file), CLI, lambda e: str(e.file)),
    ('CLI finished run, other lr', lambda e: e.cli(e.done, '--lr', '0.2'), CLI, 'lr: 0.1 there, 0.2 now'),
    ('CLI odd batch', lambda e: e.cli(e.work/'c4', '--bs', '3'), CLI, 'bs=3 cannot be split'),
]


@cases(CASES)
def test_refused(case, env): check(case, env)


def test_refusals_did_no_work(env):
    "Refused runs left no checkpoints, models or results behind."
    for name in ('x1', 'x2', 'x3', 'x5', 'x6', 'c1', 'c2', 'c3', 'c4'):
        out = env.work/name
        assert not out.exists() or not [*out.glob('checkpoints/*'), *out.glob('model'), *out.glob('results.json')], name
    assert json.loads((env.done/'results.json').read_text())['config']['lr'] == 0.1  # the finished run is untouched


def test_no_resume_deletes_nothing_when_an_input_is_refused(env):
    "`resume=False` deletes a finished run only once every input has been checked."
    out = shutil.copytree(env.done, env.work/'done_copy')
    before = sorted(p.relative_to(out) for p in out.rglob('*'))
    with pytest.raises(FileNotFoundError, match='nowhere'): env.train(out, resume=False, pseudo_dir=env.work/'nowhere')
    assert sorted(p.relative_to(out) for p in out.rglob('*')) == before
    assert (env.work/'elsewhere').is_dir() and any((env.work/'elsewhere').iterdir())  # the link's target untouched

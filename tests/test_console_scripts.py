"""The console entry points declared in settings.ini (`console_scripts`), run the way a cluster job runs them.

`conformalsam_train` trains the tiny SegFormer of `test_train_resume.py` for two epochs (one per stage) from files on
disk and writes the model, the results and the checkpoints, returns them unchanged when asked again, and refuses bad
flags with one line and exit status 2 (every script: `test_cli_errors.py`); `conformalsam_pseudo` (module
`conformalsam.pseudo`) must at least start and describe its arguments. The commands exist after `pip install -e .`.
"""
import json, os, shutil, subprocess, sys, tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO/'tests'))
from test_train_resume import make_inputs

ENV = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', MPLBACKEND='Agg')


def _cmd(name):
    exe = shutil.which(name)
    if exe is None: pytest.fail(f"console script {name} is not installed: run `pip install -e .`")
    return [exe]


def test_train_console_script():
    with tempfile.TemporaryDirectory() as d:
        work = Path(d); make_inputs(work)
        root = work/'synth'
        args = [str(root), str(root/'splits/1_4'), str(root/'splits/val.txt'), str(work/'run'), '--pseudo_dir',
                str(work/'pseudo'), '--preset', 'synthetic', '--variant', 'none', '--pretrained', str(work/'mit-tiny'),
                '--epochs', '2', '--sr_epoch', '1', '--crop', '32', '--lr', '0.1', '--head_lr_mult', '1',
                '--num_workers', '0', '--bs', '4', '--lr_scale', 'sqrt', '--warmup', '0.5']  # throughput mode at the paper's batch of 4: lr unchanged
        p = subprocess.run(_cmd('conformalsam_train') + args, env=ENV, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        printed = json.loads(p.stdout.strip().splitlines()[-1])
        res = json.loads((work/'run/results.json').read_text())
        assert printed['miou'] == res['miou'] and len(res['history']) == 2
        cfg = res['config']
        assert cfg['sr_epoch'] == 1 and cfg['pretrained'] == str(work/'mit-tiny') and cfg['augment'] == 'geometric'
        assert (cfg['lr_scale'], cfg['warmup'], res['lr']) == ('sqrt', 0.5, 0.1)
        assert (work/'run/model/model.safetensors').exists() and (work/'run/checkpoints/epoch_001').is_dir()
        # the same command again: the finished run's results, nothing rewritten
        before = (work/'run/results.json').read_bytes()
        p = subprocess.run(_cmd('conformalsam_train') + args, env=ENV, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0 and (work/'run/results.json').read_bytes() == before, p.stderr[-3000:]
        # bad configurations are refused with one clear line and a non-zero exit
        bad = subprocess.run(_cmd('conformalsam_train') + args[:4] + ['--pseudo_dir', str(work/'pseudo'), '--bs', '3'],
                             env=ENV, capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and 'bs=3 cannot be split' in bad.stderr and 'Traceback' not in bad.stderr
        bad = subprocess.run(_cmd('conformalsam_train') + args + ['--compile', 'fastest'], env=ENV, capture_output=True,
                             text=True, timeout=120)
        assert bad.returncode == 2 and "compile='fastest'" in bad.stderr and 'reduce-overhead' in bad.stderr


def test_pseudo_console_script_starts():
    p = subprocess.run(_cmd('conformalsam_pseudo') + ['--help'], env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and 'usage: conformalsam_pseudo' in p.stdout, p.stdout + p.stderr

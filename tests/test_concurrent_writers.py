"""Two runs on one output folder, and Ctrl-C in the middle of pseudo-labeling or training.

- Two `conformalsam_pseudo` on one cache folder, and two `conformalsam_train` on one output folder, the second started
  while the first holds the folder: the first finishes with outputs byte-identical to a solo run's, the second is
  refused at once (non-zero exit) with a message naming the folder and the holder's pid.
- A `conformalsam_pseudo` killed with SIGKILL while it holds the cache leaves no lock that blocks: the next run on the
  same folders succeeds, with a solo run's outputs (`folder_lock` is an OS lock, released when its process dies).
- SIGINT while pseudo-labeling, or after training's first checkpoint: the command stops (exit 130) without a
  traceback, says how to resume, and the same command run again ends with a solo run's outputs.

The first ("holder") run is the console command's own function, slowed down (each image labeled waits 1.5 s; training
waits, before its first epoch, until the test has run the second command) so that the second one certainly starts
while it holds the folder.
"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusals import run_cli
import test_train_resume as R

LOCK_HOLDER = '.conformalsam.lock.holder'
TIMEOUT = 240

SLOW_PSEUDO = """
import sys, time
from conformalsam.simulated import SimulatedLabeler
predict = SimulatedLabeler.predict
SimulatedLabeler.predict = lambda self, ims, classes: (time.sleep(1.5 * len(ims)), predict(self, ims, classes))[1]
from conformalsam.pseudo import pseudo_cli
sys.argv = ['conformalsam_pseudo', *sys.argv[1:]]
pseudo_cli()
"""

SLOW_TRAIN = """
import sys, time
import conformalsam.train as T
from pathlib import Path
def held(*a):  # the folder is locked: wait (at most 120 s) until the test has run the second command
    t = time.monotonic()
    while not Path(sys.argv[4], 'go').exists() and time.monotonic() < t + 120: time.sleep(0.05)
    return run(*a)
run, T._run = T._run, held
T.train_cli(sys.argv[1:])
"""


def _sigint_default():
    "In the child: SIGINT raises KeyboardInterrupt again, even when this worker ignores it (a library it ran set that)."
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(code, *args):
    "Run `code` as a script file (fastcore's `call_parse` parses the command line only from a script)."
    script = Path(args[3]).parent/f'slow_{abs(hash(code))}.py'
    script.write_text(code)
    return subprocess.Popen([sys.executable, script, *map(str, args)], env=R._ENV, cwd=R.REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_sigint_default)


def _wait_for(p, ready):
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if p.poll() is not None: pytest.fail(f"the run ended before the point waited for:\n{p.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _files(folder, skip=('pseudo.json', 'report.json')):
    "`{relative path: bytes}` of a folder's files, lock files and records naming their own folder left out."
    folder = Path(folder)
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob('*'))
            if f.is_file() and f.name not in skip and not f.name.startswith('.conformalsam.lock')}


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp('writers')
    R.make_inputs(w)
    return w


def _pseudo_args(work, cache, out):
    root = work/'synth'
    return [root, root/'splits/1_4/labeled.txt', root/'splits/1_4/unlabeled.txt', cache, out, '--labeler', 'simulated',
            '--alpha', '0.2', '--grid', '8', '--bs', '2']


def test_two_pseudo_runs_on_one_cache(work):
    ref = run_cli('conformalsam_pseudo', *_pseudo_args(work, work/'p_ref_cache', work/'p_ref_out'))
    assert ref.returncode == 0, ref.stderr[-3000:]
    cache = work/'p_cache'
    a = _start(SLOW_PSEUDO, *_pseudo_args(work, cache, work/'p_out_a'))
    _wait_for(a, lambda: (cache/LOCK_HOLDER).exists())
    b = run_cli('conformalsam_pseudo', *_pseudo_args(work, cache, work/'p_out_b'))
    assert a.poll() is None, "the holder ended before the second run was refused: the test proves nothing"
    msg = b.stdout + b.stderr
    assert b.returncode == 2 and str(cache) in msg and f'pid {a.pid}' in msg and 'in use by another run' in msg, msg
    assert msg.startswith('conformalsam_pseudo: error: ') and 'Traceback' not in msg, msg  # one line, no traceback
    assert not (work/'p_out_b').exists()  # refused before anything was written
    assert a.wait(TIMEOUT) == 0, a.stdout.read()[-3000:]
    a.stdout.close()
    assert _files(cache) == _files(work/'p_ref_cache') and _files(work/'p_out_a') == _files(work/'p_ref_out')
    assert not (cache/LOCK_HOLDER).exists()


def test_killed_pseudo_run_does_not_block(work):
    cache, out = work/'k_cache', work/'k_out'
    a = _start(SLOW_PSEUDO, *_pseudo_args(work, cache, out))
    _wait_for(a, lambda: (cache/LOCK_HOLDER).exists() and any((cache/'stats').glob('*.safetensors')))
    a.send_signal(signal.SIGKILL); a.wait(); a.stdout.close()
    assert (cache/LOCK_HOLDER).exists()  # the dead holder's description stays: it must not block
    if not (work/'p_ref_cache').exists(): test_two_pseudo_runs_on_one_cache(work)
    p = run_cli('conformalsam_pseudo', *_pseudo_args(work, cache, out))
    assert p.returncode == 0, p.stderr[-3000:]
    assert _files(cache) == _files(work/'p_ref_cache') and _files(out) == _files(work/'p_ref_out')


def test_sigint_stops_pseudo_labeling_and_resumes(work):
    cache, out = work/'i_cache', work/'i_out'
    a = _start(SLOW_PSEUDO, *_pseudo_args(work, cache, out))
    _wait_for(a, lambda: any((cache/'stats').glob('*.safetensors')))
    a.send_signal(signal.SIGINT)
    msg = a.communicate(timeout=60)[0]
    assert a.returncode == 130, f"exit {a.returncode}:\n{msg[-3000:]}"
    assert 'Traceback' not in msg and 'interrupted' in msg and 'rerun the same command to resume' in msg, msg[-3000:]
    assert not (cache/LOCK_HOLDER).exists()  # the lock ends with its run
    if not (work/'p_ref_cache').exists(): test_two_pseudo_runs_on_one_cache(work)
    p = run_cli('conformalsam_pseudo', *_pseudo_args(work, cache, out))
    assert p.returncode == 0, p.stderr[-3000:]
    assert _files(cache) == _files(work/'p_ref_cache') and _files(out) == _files(work/'p_ref_out')


def _train_args(work, out):
    root = work/'synth'
    return [root, root/'splits/1_4', root/'splits/val.txt', out, '--preset', 'synthetic', '--variant', 'none',
            '--pretrained', work/'mit-tiny', '--epochs', '4', '--sr_epoch', '2', '--crop', '32', '--bs', '4',
            '--lr', '0.1',
            '--head_lr_mult', '1', '--augment', 'allspark', '--deterministic', 'true', '--pseudo_dir', work/'pseudo',
            '--num_workers', '0', '--keep', '10']


@pytest.fixture(scope='module')
def train_ref(work):
    p = run_cli('conformalsam_train', *_train_args(work, work/'t_ref'))
    assert p.returncode == 0, p.stderr[-3000:]
    return R._outputs(work/'t_ref')


def test_two_train_runs_on_one_folder(work, train_ref):
    out = work/'t_two'
    a = _start(SLOW_TRAIN, *_train_args(work, out))
    _wait_for(a, lambda: (out/LOCK_HOLDER).exists())
    b = run_cli('conformalsam_train', *_train_args(work, out))
    assert a.poll() is None, "the holder ended before the second run was refused: the test proves nothing"
    (out/'go').touch()
    msg = b.stdout + b.stderr
    assert b.returncode == 2 and str(out) in msg and f'pid {a.pid}' in msg and 'Traceback' not in msg, msg
    assert a.wait(TIMEOUT) == 0, a.stdout.read()[-3000:]
    a.stdout.close()
    assert R._outputs(out) == train_ref
    (out/'go').unlink()
    assert R._leftovers(out) == [] and (out/'.conformalsam.lock').exists()  # the lock file (empty) stays


def test_sigint_stops_training_and_resumes(work, train_ref):
    out = work/'t_int'
    a = subprocess.Popen(['conformalsam_train', *map(str, _train_args(work, out))], env=R._ENV, cwd=R.REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_sigint_default)
    _wait_for(a, lambda: (out/'checkpoints/epoch_000').exists())
    a.send_signal(signal.SIGINT)
    msg = a.communicate(timeout=60)[0]
    assert a.returncode == 130, f"exit {a.returncode}:\n{msg[-3000:]}"
    assert 'Traceback' not in msg and 'interrupted' in msg and 'rerun the same command to resume' in msg, msg[-3000:]
    assert not (out/'results.json').exists() and not (out/LOCK_HOLDER).exists()
    p = run_cli('conformalsam_train', *_train_args(work, out))
    assert p.returncode == 0, p.stderr[-3000:]
    assert R._outputs(out) == train_ref

"""The data preparation commands, run as a user runs them: `conformalsam_sbd` converts SBD's `cls/*.mat` into
`SegmentationClassAug` (and resumes after a kill -9 with byte-identical outputs and no left-overs), and
`conformalsam_check` checks a root against a split (exit status 0 when all is well, 1 naming every bad file, 2 when
it cannot run: one line naming the culprit).
The commands exist after `pip install -e .`."""
import os, shutil, signal, subprocess, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from refusals import run_cli
from test_refusals_data import write_sbd_mat, write_devkit
from conformalsam.data import read_split
from conformalsam.synthetic import make_synthetic


def _cmd(name):
    exe = shutil.which(name)
    if exe is None: pytest.fail(f"console script {name} is not installed: run `pip install -e .`")
    return exe


def sbd_download(d, n, size=96):
    "A standard devkit with VOC masks for the first 3 of `n` images, and SBD's cls/*.mat for all but the second."
    ids = [f'2008_{i:06d}' for i in range(n)]
    root = write_devkit(d/'data', ids[:3], ids[3:])
    rng = np.random.default_rng(0)
    for i in ids[:1] + ids[2:]:
        write_sbd_mat(d/'benchmark_RELEASE/dataset/cls'/f'{i}.mat', rng.integers(0, 21, (size, size)))
    return root, d/'benchmark_RELEASE', ids


def outputs(root):
    "`{name: bytes}` of every file in SegmentationClassAug (temporary files included)."
    return {p.name: p.read_bytes() for p in sorted((root/'VOCdevkit/VOC2012/SegmentationClassAug').iterdir())}


def test_sbd_script_converts_and_resumes(tmp_path):
    root, sbd, ids = sbd_download(tmp_path, 6, size=8)
    p = run_cli(_cmd('conformalsam_sbd'), sbd, root)
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'wrote 3 masks from SBD and 3 from' in p.stdout
    out = outputs(root)
    assert sorted(out) == [f'{i}.png' for i in ids]
    aug = root/'VOCdevkit/VOC2012/SegmentationClassAug'
    assert all(Image.open(aug/f'{i}.png').mode == 'L' for i in ids)
    assert (np.asarray(Image.open(aug/f'{ids[0]}.png')) == 1).all()  # VOC's own mask wins over SBD's
    again = run_cli(_cmd('conformalsam_sbd'), sbd, root/'VOCdevkit')
    assert again.returncode == 0 and 'wrote 0 masks from SBD and 0 from' in again.stdout and '6 were there' in again.stdout
    assert outputs(root) == out


def test_sbd_script_resumes_after_kill(tmp_path):
    root, sbd, ids = sbd_download(tmp_path/'a', 400)
    whole, _, _ = sbd_download(tmp_path/'b', 400)
    assert run_cli(_cmd('conformalsam_sbd'), sbd, whole).returncode == 0
    aug = root/'VOCdevkit/VOC2012/SegmentationClassAug'
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.Popen([_cmd('conformalsam_sbd'), str(sbd), str(root)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not aug.is_dir() or len(list(aug.glob('*.png'))) < 20): time.sleep(0.01)
    proc.send_signal(signal.SIGKILL); proc.wait()
    done = len(list(aug.glob('*.png')))
    assert 20 <= done < 400, f"the kill landed after {done} of 400 masks"
    (aug/f'.{ids[-1]}.png.tmp999999999.png').write_bytes(b'partial')  # what a kill during a write leaves
    p = run_cli(_cmd('conformalsam_sbd'), sbd, root)
    assert p.returncode == 0, p.stdout + p.stderr
    assert outputs(root) == outputs(whole)  # byte-identical, no left-overs


def test_check_script(tmp_path):
    root = make_synthetic(tmp_path/'synth', n_train=16, n_val=4, size=32, seed=0)
    p = run_cli(_cmd('conformalsam_check'), root, '1_4', '--splits_dir', root/'splits')
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'labeled + unlabeled' in p.stdout and 'is readable and valid' in p.stdout and '16-bit grayscale' not in p.stdout
    # a 16-bit grayscale image is valid, and the checker says how it is read
    v, unl = root/'VOCdevkit/VOC2012', read_split(root/'splits/1_4/unlabeled.txt')
    grey = np.asarray(Image.open(v/unl[0][0]).convert('L'), np.uint16)
    Image.fromarray(grey * 257).save(v/unl[0][0], format='PNG')  # 16-bit data under the .jpg name: PIL reads content
    p = run_cli(_cmd('conformalsam_check'), root, '1_4', '--splits_dir', root/'splits')
    assert p.returncode == 0, p.stdout + p.stderr
    assert '1 image(s) are 16-bit grayscale: they are read scaled to 8 bits' in p.stdout
    lab = read_split(root/'splits/1_4/labeled.txt')
    v = root/'VOCdevkit/VOC2012'
    (v/lab[0][0]).unlink()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(v/lab[1][1])
    p = run_cli(_cmd('conformalsam_check'), root, '1_4', '--splits_dir', root/'splits')
    assert p.returncode == 1
    assert Path(lab[0][0]).name in p.stdout and Path(lab[1][1]).name in p.stdout
    assert '2 problem(s)' in p.stderr
    # a check that cannot run (a split that does not exist): status 2, one line naming it
    p = run_cli(_cmd('conformalsam_check'), root, '1_3', '--splits_dir', root/'splits')
    assert p.returncode == 2 and p.stderr.startswith('conformalsam_check: error: ') and "'1_3'" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not p.stdout, p.stdout + p.stderr


def test_check_script_on_a_standard_devkit(tmp_path):
    "A count-split-like partition: its unlabeled SBD image has no mask on a standard devkit, and needs none."
    root = write_devkit(tmp_path/'data', ['2007_000032', '2007_000039'], ['2008_000002'])
    s = tmp_path/'splits'; (s/'2').mkdir(parents=True)
    (s/'2/labeled.txt').write_text("JPEGImages/2007_000032.jpg SegmentationClass/2007_000032.png\n")
    (s/'2/unlabeled.txt').write_text("JPEGImages/2008_000002.jpg SegmentationClass/2008_000002.png\n")
    (s/'val.txt').write_text("JPEGImages/2007_000039.jpg SegmentationClass/2007_000039.png\n")
    p = run_cli(_cmd('conformalsam_check'), root, '2', '--splits_dir', s)
    assert p.returncode == 0, p.stdout + p.stderr
    assert '10582' in p.stdout and '1449' in p.stdout  # the standard sizes beside the counts
    # the same list as a labeled one is refused, naming the missing mask
    p = run_cli(_cmd('conformalsam_check'), root, s/'2/unlabeled.txt')
    assert p.returncode == 1 and '2008_000002.png' in p.stdout


def test_sbd_script_ctrl_c_is_one_line_and_status_130(tmp_path):
    "Ctrl-C (SIGINT) during the conversion: no traceback, one line saying how to resume, status 130; a rerun finishes."
    root, sbd, ids = sbd_download(tmp_path, 400)
    aug = root/'VOCdevkit/VOC2012/SegmentationClassAug'
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    # SIGINT raises KeyboardInterrupt in the child even when this worker ignores it (a library it ran set that)
    proc = subprocess.Popen([_cmd('conformalsam_sbd'), str(sbd), str(root)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and (not aug.is_dir() or len(list(aug.glob('*.png'))) < 20): time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert len(list(aug.glob('*.png'))) < 400, "the conversion ended before Ctrl-C"
    assert proc.returncode == 130 and 'Traceback' not in err, err[-3000:]
    assert err.strip() == ("conformalsam_sbd: interrupted; the masks written so far are kept: "
                           "rerun the same command to resume"), err[-3000:]
    p = run_cli(_cmd('conformalsam_sbd'), sbd, root)
    assert p.returncode == 0 and len(list(aug.glob('*.png'))) == 400, p.stdout + p.stderr

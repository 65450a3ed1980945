"""`PseudoLabels.run` survives `kill -9` at any point: a rerun computes exactly the missing items, reads no half-written
file, and ends with the same files as an uninterrupted run.

Workers are separate processes forked from a `forkserver` that imported the stack once (so they start at once, and
never inherit the test process's torch threads); SIGKILL ends them like any process. A worker runs the pipeline with a simulated labeler slowed down by DELAY seconds per image and appends the stem of every image it has
labeled to LOG (`cal:` prefix for the calibration pass). The test kills a worker with SIGKILL twice, once during the
calibration pass and once in the middle of the unlabeled pass, then lets a third one finish, and compares the cache
with one made by an uninterrupted run in another folder.

`write_masks` too: a worker whose PNG writes linger (each mask's temporary file stays DELAY seconds before its rename)
is killed while a temporary mask exists; the rerun removes the left-over and ends with the same files as an
uninterrupted run.
"""
import multiprocessing as mp, os, signal, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ALPHA, GRID, BS = 0.2, 8, 2
TIMEOUT = 40  # seconds per worker
LOCK = '.conformalsam.lock'  # the writer lock file (empty) stays; its OS lock ended with its process


def pipeline(root, cache, log=None, delay=0.0):
    from conformalsam.data import open_dataset
    from conformalsam.simulated import SimulatedLabeler
    from conformalsam.pseudo import PseudoLabels
    from conformalsam.streaming import Calibration

    class Slow(SimulatedLabeler):  # same id as SimulatedLabeler: the manifests of all runs agree
        def predict(self, images, classes):
            out = super().predict(images, classes)
            time.sleep(delay * len(images))
            if log is not None:
                with open(log, 'a') as f:
                    for im in images: f.write(('' if 'unl' in self.mode else 'cal:') + Path(im).stem + '\n')
            return out

    lab, unl = [open_dataset(root, Path(root) / f'splits/1_4/{s}.txt') for s in ('labeled', 'unlabeled')]
    labeler = Slow([lab, unl], seed=3)
    labeler.mode = 'cal'
    pl = PseudoLabels(cache, labeler, lab, unl, Calibration(ALPHA, grid=GRID, clip=False), bs=BS)
    calibrate = pl._calibrate
    def _calibrate():  # label the log lines of the two passes
        calibrate(); labeler.mode = 'unl'
    pl._calibrate = _calibrate
    if (Path(cache) / 'calibrator.safetensors').exists(): labeler.mode = 'unl'
    return pl.run(), unl


def _worker(root, cache, log, delay):
    "Forked worker: a separate process (killable with SIGKILL) that starts without re-importing the stack."
    code = 0
    try: pipeline(root, cache, log, delay)
    except BaseException:
        import traceback; Path(log).with_suffix('.err').write_text(traceback.format_exc()); code = 1
    os._exit(code)


def _mask_worker(root, cache, out, log, delay):
    "Forked worker writing the masks of a filled cache; every PNG's temporary file lingers `delay` seconds."
    code = 0
    try:
        from PIL import Image
        save = Image.Image.save
        def slow_save(self, fp, *args, **kwargs):
            save(self, fp, *args, **kwargs); time.sleep(delay)  # the temporary exists, not yet renamed
        Image.Image.save = slow_save
        pl, _ = pipeline(root, cache)
        pl.write_masks(out)
    except BaseException:
        import traceback; Path(log).with_suffix('.err').write_text(traceback.format_exc()); code = 1
    os._exit(code)


def _context():
    ctx = mp.get_context('forkserver')
    ctx.set_forkserver_preload(['conformalsam.pseudo', 'conformalsam.labelers'])
    return ctx


def _start(root, cache, log, delay):
    p = _context().Process(target=_worker, args=(root, cache, log, delay))
    p.start()
    return p


def _err(log):
    e = Path(log).with_suffix('.err')
    return e.read_text()[-3000:] if e.exists() else ''


def _lines(log):
    return Path(log).read_text().split() if Path(log).exists() else []


def _kill_when(proc, cond, log):
    "SIGKILL `proc` as soon as `cond()` holds (fails if it exits or times out first)."
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        assert proc.is_alive(), f"worker ended before it could be killed:\n{_err(log)}"
        if time.monotonic() > deadline: proc.kill(); proc.join(); raise AssertionError("worker too slow")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL); proc.join()
    assert proc.exitcode == -signal.SIGKILL


def _files(cache):
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in sorted(Path(cache).rglob('*')) if p.is_file()}


def test_kill_and_resume():
    from conformalsam.data import make_synthetic
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        root = make_synthetic(d / 'synth', n_train=32, n_val=4, size=32, seed=5)
        cache, log = d / 'cache', d / 'log.txt'
        # 1. killed during the calibration pass (8 labeled images)
        p = _start(root, cache, log, 0.15)
        _kill_when(p, lambda: len(_lines(log)) >= 2, log)
        assert not (cache / 'calibrator.safetensors').exists()
        # 2. killed in the middle of the unlabeled pass (24 images)
        p = _start(root, cache, log, 0.15)
        stats = cache / 'stats'
        _kill_when(p, lambda: stats.exists() and len(list(stats.glob('*.safetensors'))) >= 6, log)
        done = {f.stem for f in stats.glob('*.safetensors')}
        assert 6 <= len(done) < 24
        n_before = len(_lines(log))
        # 3. finish: only the missing items are computed
        p = _start(root, cache, log, 0.0)
        p.join(TIMEOUT)
        if p.is_alive(): p.kill(); p.join()
        assert p.exitcode == 0, _err(log)
        last = _lines(log)[n_before:]
        assert not any(l.startswith('cal:') for l in last), "the calibration pass was redone although it had finished"
        all_stems = {f.stem for f in stats.glob('*.safetensors')}
        assert len(all_stems) == 24
        assert sorted(last) == sorted(all_stems - done), (sorted(last), sorted(all_stems - done))
        assert not [f for f in cache.rglob('.*') if f.is_file() and f.name != LOCK], "temporary files left behind"
        # 4. same files as an uninterrupted run
        ref, unl = pipeline(root, d / 'ref')
        assert _files(cache).keys() == _files(d / 'ref').keys()
        for k, v in _files(d / 'ref').items(): assert _files(cache)[k] == v, k  # the calibrator file included
        import numpy as np
        from conformalsam.pseudo import PseudoLabels
        from conformalsam.streaming import Calibration
        resumed = PseudoLabels(cache, ref.labeler, ref.labeled, unl, Calibration(ALPHA, grid=GRID, clip=False))
        np.testing.assert_array_equal(resumed.calibrator.quantiles().numpy(), ref.calibrator.quantiles().numpy())
        for i in range(0, 24, 5): np.testing.assert_array_equal(resumed.labels(i), ref.labels(i))



def test_kill_while_masks_are_written():
    from conformalsam.data import make_synthetic
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        root = make_synthetic(d / 'synth', n_train=32, n_val=4, size=32, seed=5)
        cache, out, log = d / 'cache', d / 'masks', d / 'log.txt'
        pl, _ = pipeline(root, cache)  # fill the cache
        pl.write_masks(d / 'ref')  # an uninterrupted run
        p = _context().Process(target=_mask_worker, args=(root, cache, out, log, 0.2))
        p.start()
        def tmp_exists(): return bool(list(out.glob('.*.tmp*.png'))) and len(list(out.glob('*.png'))) >= 3
        _kill_when(p, tmp_exists, log)
        assert list(out.glob('.*.tmp*.png')), "the kill did not land while a mask was being written"
        assert not (out / 'pseudo.json').exists()
        p = _context().Process(target=_mask_worker, args=(root, cache, out, log, 0.0))
        p.start(); p.join(TIMEOUT)
        if p.is_alive(): p.kill(); p.join()
        assert p.exitcode == 0, _err(log)
        left = [f.name for f in out.iterdir() if f.name.startswith('.') and f.name != LOCK]
        assert not left, f"left-overs in the output folder: {left}"
        assert _files(out) == _files(d / 'ref')

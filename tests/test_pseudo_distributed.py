"""`PseudoLabels` sharded over two real CPU processes (gloo): every unlabeled image is labeled exactly once, and the
cache and the masks equal those of a one-process run.

How the processes are started: two workers forked from a `forkserver` that imported the stack once (fast starts, no
torch threads inherited from the test process) set the environment a multi-process launcher gives (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
`MASTER_PORT` on a free port) plus `ACCELERATE_USE_CPU=true`, with which accelerate's `PartialState` creates a gloo
process group on CPU. (`accelerate launch --cpu --num_processes 2` is not used: on CPU it starts one process and
expects `mpirun` to start the others; on GPUs `accelerate launch --num_processes N` sets these same variables.)
Each worker runs `PseudoLabels(...).run()` and `write_masks` (CP, and risk-controlled), and reports the images it
labeled.
"""
import json, multiprocessing as mp, os, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from gloo import free_port

WORLD, ALPHA, GRID, RISK = 2, 0.2, 8, 0.2
TIMEOUT = 50  # seconds for both workers together


def pipeline(root, cache):
    from conformalsam.data import open_dataset
    from conformalsam.simulated import SimulatedLabeler
    from conformalsam.pseudo import PseudoLabels
    from conformalsam.streaming import Calibration
    lab, unl = [open_dataset(root, Path(root) / f'splits/1_4/{s}.txt') for s in ('labeled', 'unlabeled')]
    return PseudoLabels(cache, SimulatedLabeler([lab, unl], seed=1), lab, unl, Calibration(ALPHA, grid=GRID, clip=False), bs=2)


def worker(root, cache, out):
    pl = pipeline(root, cache).run()
    st = pl.state
    assert st.num_processes == WORLD and st.backend == 'gloo', (st.num_processes, st.backend)
    pl.write_masks(Path(out) / 'masks')
    pl.write_masks(Path(out) / 'risk_masks', risk=RISK)  # risk-controlled, sharded the same way
    (Path(out) / f'rank{st.process_index}.json').write_text(json.dumps(dict(computed=pl.computed, world=st.num_processes)))
    st.destroy_process_group()


def _context():
    ctx = mp.get_context('forkserver')
    ctx.set_forkserver_preload(['conformalsam.pseudo', 'conformalsam.labelers'])
    return ctx


def _worker(rank, port, root, cache, out):
    "Forked worker with a launcher's environment; the exit code and any traceback say how it went."
    code = 0
    try:
        from accelerate import PartialState
        os.environ.update(ACCELERATE_USE_CPU='true', CUDA_VISIBLE_DEVICES='', MASTER_ADDR='127.0.0.1',
                          MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank),
                          LOCAL_WORLD_SIZE=str(WORLD))
        PartialState._reset_state()  # a state the parent process may have made is not this process's
        worker(root, cache, out)
    except BaseException:
        import traceback; (Path(out) / f'err{rank}.txt').write_text(traceback.format_exc()); code = 1
    os._exit(code)


def _launch(root, cache, out):
    "Fork both workers; return their (exit code, error) pairs. Kills them on timeout."
    port, ctx = free_port(), _context()
    procs = [ctx.Process(target=_worker, args=(rank, port, root, cache, out)) for rank in range(WORLD)]
    for p in procs: p.start()
    deadline = time.monotonic() + TIMEOUT
    for p in procs: p.join(max(1, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive(): p.kill(); p.join()
    errs = [(Path(out) / f'err{r}.txt') for r in range(WORLD)]
    return [(p.exitcode, e.read_text() if e.exists() else '') for p, e in zip(procs, errs)]


def test_two_processes_label_each_item_once():
    import numpy as np
    from PIL import Image
    from conformalsam.data import make_synthetic
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        root = make_synthetic(d / 'synth', n_train=32, n_val=4, size=32, seed=7)
        out = d / 'out'; out.mkdir()
        for attempt in range(2):  # a second try only if the free port was taken in between
            runs = _launch(root, d / 'cache', out)
            if all(rc == 0 for rc, _ in runs) or not any('address already in use' in o.lower() for _, o in runs): break
        for rank, (rc, log) in enumerate(runs): assert rc == 0, f"worker {rank} failed (rc={rc}):\n{log[-4000:]}"
        res = [json.loads((out / f'rank{r}.json').read_text()) for r in range(WORLD)]

        ref = pipeline(root, d / 'ref').run()  # one process
        stems = [it.image.stem for it in ref.unlabeled.items]
        a, b = (set(r['computed']) for r in res)
        assert not a & b, f"labeled twice: {sorted(a & b)}"
        assert a | b == set(stems) and len(a) + len(b) == len(stems) == 24
        assert min(len(a), len(b)) == 12  # both processes worked
        for s in stems:
            assert (d / 'cache/stats' / f'{s}.safetensors').read_bytes() == (d / 'ref/stats' / f'{s}.safetensors').read_bytes(), s
        info = json.loads((out / 'masks/pseudo.json').read_text())
        assert info['alpha'] == ALPHA and info['simulated'] is True and info['n_images'] == 24
        for i in range(0, 24, 3):
            np.testing.assert_array_equal(np.asarray(Image.open(out / 'masks' / f'{stems[i]}.png')), ref.labels(i))
        assert (d / 'cache/risk.safetensors').read_bytes() == (d / 'ref/risk.safetensors').read_bytes()
        info = json.loads((out / 'risk_masks/pseudo.json').read_text())
        assert (info['rule'], info['risk'], info['n_images']) == ('risk', RISK, 24)
        assert len(list((out / 'risk_masks').glob('*.png'))) == 24
        for i in range(1, 24, 3):
            np.testing.assert_array_equal(np.asarray(Image.open(out / 'risk_masks' / f'{stems[i]}.png')),
                                          ref.labels(i, risk=RISK))


"""Start a test file's `worker` in N CPU processes (gloo) the way `accelerate launch --cpu --num_processes N` would.

The test file re-runs itself as `python FILE --worker ARGS...` with the launcher's environment (`ACCELERATE_USE_CPU=true`
makes accelerate pick a multi-CPU gloo group; `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT` on a free
port). A hang fails the test instead of blocking CI: the workers are killed after `timeout` seconds."""
import os, socket, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def _start(script, args, world, timeout, workdir):
    "One try: (returncode, output) of each worker."
    port, procs, logs = free_port(), [], []
    for rank in range(world):
        env = dict(os.environ, ACCELERATE_USE_CPU='true', CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1',
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                   LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world), HF_HUB_OFFLINE='1', MPLBACKEND='Agg',
                   PYTHONPATH=os.pathsep.join([str(REPO), str(REPO/'tests'), os.environ.get('PYTHONPATH', '')]))
        log = open(Path(workdir)/f'log{rank}.txt', 'w+')
        procs.append(subprocess.Popen([sys.executable, str(script), '--worker', *map(str, args)], env=env, cwd=REPO,
                                      stdout=log, stderr=subprocess.STDOUT))
        logs.append(log)
    deadline, res = time.monotonic() + timeout, []
    try:
        for p in procs: p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired: pass
    finally:
        for p in procs:
            if p.poll() is None: p.kill(); p.wait()
        for p, log in zip(procs, logs):
            log.seek(0); res.append((p.returncode, log.read())); log.close()
    return res

def launch(script, # the test file whose `--worker` entry runs on every rank
           args, # arguments after `--worker`
           world:int, # number of processes
           timeout:float, # seconds for all workers together
           workdir): # folder for the workers' logs
    "Run the workers (one retry if the free port was taken meanwhile); assert each exited 0, showing its log if not."
    for attempt in range(2):
        runs = _start(script, args, world, timeout, workdir)
        if all(rc == 0 for rc, _ in runs) or not any('address already in use' in o.lower() for _, o in runs): break
    for rank, (rc, log) in enumerate(runs): assert rc == 0, f"worker {rank} failed (rc={rc}):\n{log[-4000:]}"

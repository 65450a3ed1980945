"""Two experiment jobs sharing one `results_dir` at the same time (a cluster array, or two notebooks at once).

Job A trains ['label-only', 'cp'], job B ['cp', 'labeler-raw'], started together: both need the same labeler cache and
the same 'cp' model. File locks make one wait for the other: the cache is filled once, 'cp' is trained once (the
other job prints 'done before'), and results.json ends with all three records (none lost to a concurrent rewrite).
"""
import json, os, subprocess, sys
from pathlib import Path

JOB = """
import sys
from conformalsam.experiment import Data, resolve, run_experiment
exp = resolve(Data('synthetic', '1_2', synthetic=dict(n_train=32, n_val=8, size=32)), train=dict(epochs=1, crop=32),
              results_dir=sys.argv[1])
recs = run_experiment(exp, sys.argv[2].split(','), num_workers=0)
print('RECORDS', [r['method'] for r in recs])
"""

def test_two_jobs_share_results_dir(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    res = tmp_path/'results'
    # the synthetic data set is written before the jobs start (make_synthetic is not what this test is about)
    subprocess.run([sys.executable, '-c', "import sys; from conformalsam.experiment import Data, resolve, write_inputs; "
                    "write_inputs(resolve(Data('synthetic', '1_2', synthetic=dict(n_train=32, n_val=8, size=32)), "
                    "results_dir=sys.argv[1]))", str(res)], env=env, check=True)
    jobs = [subprocess.Popen([sys.executable, '-c', JOB, str(res), ms], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for ms in ('label-only,cp', 'cp,labeler-raw')]
    outs = [j.communicate(timeout=300)[0] for j in jobs]
    for j, o in zip(jobs, outs): assert j.returncode == 0, o[-3000:]
    assert "RECORDS ['label-only', 'cp']" in outs[0] and "RECORDS ['cp', 'labeler-raw']" in outs[1]
    cp_done = [o for o in outs if 'cp, seed 0: done before' in o]
    assert len(cp_done) == 1, outs  # 'cp' trained by exactly one job
    recs = json.loads((res/'results.json').read_text())
    assert sorted(r['method'] for r in recs) == ['cp', 'label-only', 'labeler-raw']
    caches = [d for d in (res/'work').iterdir() if d.is_dir() and d.name.startswith('pseudo_')]
    assert len(caches) == 1 and len(list((caches[0]/'stats').glob('*.safetensors'))) == 16  # 32 train, 16 labeled

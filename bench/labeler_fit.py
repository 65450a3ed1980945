"""Fit the simulated labeler's `miss` to Table 1 (SIMULATED): the mIoU of a model trained on ground truth plus the
labeler's raw masks, relative to label-only, at the embedded benchmark's split of the paper's 92 labeled images.

Table 1 (VOC, 1/16 = 92 labeled): Label+Unlabel(SEEM) 42.00 against label-only 50.65, a ratio of 0.829. For each
`miss` of the sweep this trains `labeler-raw` (and once `label-only`) on the given seeds, prints the ratio of the
means, interpolates the `miss` at the target and writes everything (targets, runs, fit) to a JSON file that
`nbs/04c_simulated.ipynb` shows. Usage:

    python bench/labeler_fit.py [--split 1_16] [--synthetic '{"tail": 2}'] [--misses 0.2,0.39,0.6] [--seeds 2]
                                [--out nbs/labeler_fit.json]
"""
import argparse, json, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
from conformalsam.core import atomic_write
from conformalsam.experiment import Data, Labeling, resolve, write_inputs, run_experiment
from conformalsam.simulated import FailureModes
from conformalsam.tables import PAPER

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--split', default='1_16')
    p.add_argument('--synthetic', default='{}', help="the benchmark's `make_synthetic` arguments, as JSON")
    p.add_argument('--misses', default='0.2,0.39,0.6')
    p.add_argument('--seeds', type=int, default=2)
    p.add_argument('--results', default='results/labeler_fit')
    p.add_argument('--out', default='nbs/labeler_fit.json')
    a = p.parse_args()
    lo, raw = PAPER[('1', 'voc', '92', 'label-only')], PAPER[('1', 'voc', '92', 'labeler-raw')]
    target, t0 = raw / lo, time.time()
    def runs(model, method):
        exp = write_inputs(resolve(Data('synthetic', a.split, synthetic=json.loads(a.synthetic) or None),
                                   Labeling('simulated', model), seeds=a.seeds,
                                   results_dir=a.results))
        return [round(100 * r['miou'], 2) for r in run_experiment(exp, [method], num_workers=0)]
    base = runs(None, 'label-only')
    rows = []
    for m in [float(x) for x in a.misses.split(',')]:
        model = None if m == FailureModes().miss else f'miss={m}'
        v = runs(model, 'labeler-raw')
        rows.append(dict(miss=m, labeler_raw=v, ratio=round(float(np.mean(v) / np.mean(base)), 3)))
        print(f"miss={m}: labeler-raw {v} -> ratio {rows[-1]['ratio']} (target {target:.3f})", flush=True)
    ms, rs = np.array([r['miss'] for r in rows]), np.array([r['ratio'] for r in rows])
    order = np.argsort(rs)  # the ratio falls as miss grows
    fit = float(np.interp(target, rs[order], ms[order]))
    out = dict(simulated=True, split=a.split, synthetic=json.loads(a.synthetic), seeds=a.seeds, paper=dict(label_only=lo, labeler_raw=raw),
               target_ratio=round(target, 3), label_only=base, sweep=rows, fitted_miss=round(fit, 3),
               default_miss=FailureModes().miss, seconds=round(time.time() - t0))
    atomic_write(a.out, lambda t: t.write_text(json.dumps(out, indent=1) + '\n'))
    print(f"label-only {base}; fitted miss {fit:.3f} (default {FailureModes().miss}); wrote {a.out}")

if __name__ == '__main__': main()

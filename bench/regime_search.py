"""Which embedded-benchmark scenes put its scarcest split in the paper's regime? (label-only / full, SIMULATED scenes)

The paper's label-only model on VOC's 92 labeled images reaches 0.66 of the fully labeled one (Table 2: 50.65 / 77.01).
For each candidate `make_synthetic` setting this trains `label-only` and `full` at the split on the given seeds and
prints both means ± sd and their ratio. No labeler is involved. Usage:

    python bench/regime_search.py [--split 1_16] [--seeds 2] \
        [--settings '[{}, {"tail": 1.5, "n_val": 256}, {"num_classes": 12}]'] [--results results/regime_search]
"""
import argparse, json, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
from conformalsam.experiment import Data, resolve, write_inputs, run_experiment

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--split', default='1_16')
    p.add_argument('--seeds', type=int, default=2)
    p.add_argument('--settings', default='[{}, {"tail": 1.5, "n_val": 256}]',
                   help='a JSON list of make_synthetic arguments, one setting each')
    p.add_argument('--results', default='results/regime_search')
    a = p.parse_args()
    print(f"split {a.split}, seeds {a.seeds}; paper: 0.658 at 92 (Table 2)")
    for sp in json.loads(a.settings):
        t0 = time.time()
        exp = write_inputs(resolve(Data('synthetic', a.split, synthetic=sp or None), seeds=a.seeds,
                                   results_dir=a.results))
        recs = run_experiment(exp, ['label-only', 'full'], num_workers=0)
        v = {m: [100 * r['miou'] for r in recs if r['method'] == m] for m in ('label-only', 'full')}
        show = lambda x: f"{np.mean(x):.2f} ± {np.std(x, ddof=1) if len(x) > 1 else 0:.2f}"
        print(f"SIMULATED scenes {json.dumps(sp)}: label-only {show(v['label-only'])}, full {show(v['full'])}, "
              f"ratio {np.mean(v['label-only']) / np.mean(v['full']):.3f} ({time.time() - t0:.0f} s)", flush=True)

if __name__ == '__main__': main()

"""Peak memory of `conformalsam_pseudo` against the size of the largest unlabeled image, to say in README what image
sizes a run can take in a given memory.

For each (side, K): a small synthetic dataset (`make_synthetic`, K classes) whose first unlabeled image (and its mask,
which the simulated labeler reads) is replaced by a side x side one; `conformalsam_pseudo --labeler simulated` runs on
it in a child process, and the child's peak resident memory (its own `getrusage(RUSAGE_SELF).ru_maxrss` at exit) is reported with
the same run on the unchanged dataset (the baseline: Python, torch and the small images). The difference divided by
K x side^2 is the cost per class and pixel of one large image; memory grows with it linearly. A labeler with a model
(SAM 3, CLIPSeg) adds its own weights and activations; precomputed maps (`--labeler maps`) cost what is measured here.

    python bench/image_memory.py [--sides 1000,2000,4000] [--classes 8,21]
"""
import argparse, contextlib, io, os, subprocess, sys, tempfile
from pathlib import Path
import numpy as np
from PIL import Image
from conformalsam.data import make_synthetic, open_dataset

def peak_rss_gb(root, work):
    "Peak resident memory (GB) of one `conformalsam_pseudo` run in a child process."
    args = [root, root/'splits/1_2/labeled.txt', root/'splits/1_2/unlabeled.txt', work/'cache', work/'out',
            '--labeler', 'simulated', '--alpha', '0.2', '--grid', '64']
    code = ("import atexit, resource, sys; from conformalsam.pseudo import pseudo_cli\n"
            "atexit.register(lambda: print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
            "pseudo_cli(sys.argv[1:])")
    p = subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True,
                       env=dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1'))
    if p.returncode: raise RuntimeError(p.stderr[-2000:])
    kib = int(p.stdout.rsplit('MAXRSS', 1)[1])
    return kib * 1024 / 1e9  # ru_maxrss is in KiB on Linux

def enlarge(root, side):
    "Replace the first unlabeled image and its mask by side x side versions (the mask nearest-neighbour)."
    it = open_dataset(root, root/'splits/1_2/unlabeled.txt', labels='optional').items[0]
    Image.open(it.image).resize((side, side), Image.BILINEAR).save(it.image)
    m = Image.open(it.mask)
    m.resize((side, side), Image.NEAREST).save(it.mask)

def quiet(f, *args, **kwargs):
    "`f(*args, **kwargs)` without its progress bars."
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): return f(*args, **kwargs)

def main(sides, classes):
    print(f"{'K':>3} {'side':>6} {'peak GB':>8} {'baseline GB':>11} {'bytes / (K px)':>15}")
    for K in classes:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            base = quiet(make_synthetic, d/'base', n_train=16, n_val=2, size=32, num_classes=K, seed=0)
            b = peak_rss_gb(base, d/'w0')
            for side in sides:
                root = quiet(make_synthetic, d/f's{side}', n_train=16, n_val=2, size=32, num_classes=K, seed=0)
                enlarge(root, side)
                peak = peak_rss_gb(root, d/f'w{side}')
                print(f"{K:>3} {side:>6} {peak:>8.2f} {b:>11.2f} {(peak - b) * 1e9 / (K * side * side):>15.1f}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sides', default='1000,2000,4000', help='image sides (default 1000,2000,4000)')
    ap.add_argument('--classes', default='8,21', help='numbers of classes K (default 8,21)')
    a = ap.parse_args()
    main([int(s) for s in a.sides.split(',')], [int(k) for k in a.classes.split(',')])

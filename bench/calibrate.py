"""Benchmark the streaming pixel-wise calibration (`conformalsam.streaming.Calibrator`).

Feeds N random score maps (G x G, ~10% NaN) one image at a time through `Calibrator.add_scores` with
`max_images=N`, then reads q̂. Only the calibration calls are timed, not making the random maps. The last line is

    calibrate n=N grid=G seconds=S peak_rss_mb=M

with M the peak resident memory of the process. `--check` also keeps every map and compares q̂ with
`pixel_quantiles` on the stack (exactness; needs N*G*G*4 bytes more: about 12 GB at full size).
"""
import argparse, resource, time
import numpy as np
import torch
from fastprogress.fastprogress import progress_bar
from conformalsam.calibrate import pixel_quantiles
from conformalsam.streaming import Calibrator, Calibration

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=10582, help='number of score maps (images)')
    ap.add_argument('--grid', type=int, default=512, help='grid side G')
    ap.add_argument('--alpha', type=float, default=0.05, help='miscoverage rate')
    ap.add_argument('--nan', type=float, default=0.1, help='fraction of NaN (unlabeled) scores')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--check', action='store_true', help='compare q̂ with pixel_quantiles on the stacked maps')
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    cal = Calibrator(Calibration(args.alpha, grid=args.grid, clip=False), max_images=args.n)
    shape = (args.grid, args.grid)
    kept = np.empty((args.n, *shape), np.float32) if args.check else None  # every map, for the exactness check
    seconds = 0.0
    for i in progress_bar(range(args.n)):
        s = rng.random(shape, dtype=np.float32, out=None if kept is None else kept[i])
        s[rng.random(shape) < args.nan] = np.nan
        t0 = time.perf_counter()
        cal.add_scores(s)
        seconds += time.perf_counter() - t0
    t0 = time.perf_counter()
    q = cal.quantiles()
    seconds += time.perf_counter() - t0

    if args.check:
        ref = pixel_quantiles(torch.from_numpy(kept), args.alpha, clip=False)
        assert torch.equal(q, ref), f"streaming q̂ differs from pixel_quantiles at {int((q != ref).sum())} locations"
        print(f"exact: streaming q̂ == pixel_quantiles at all {q.numel()} locations ({cal!r})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    print(f"calibrate n={args.n} grid={args.grid} seconds={seconds:.1f} peak_rss_mb={peak_mb:.0f}")

if __name__ == '__main__': main()

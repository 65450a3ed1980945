"""Disk use of the maps files (`conformalsam.maps`) per image and per export of the paper's datasets.

Writes random maps of a VOC-sized image (K=21 with background, 375x500) and an ADE20K-sized one (K=150, no
background, 512x683) with `maps.save_maps` in each form and measures the files (`stat`): 'full' (K float16 maps),
'stats' (Eq. 4's statistics, for unlabeled images) and 'calib' (the maps of the classes in the image's GT mask, for
labeled images: all that Eq. 3 reads), the latter per kept class. Then projects the export of every shipped split
(`conformalsam.data.split_names`): its labeled images full (or 'calib'), the rest 'stats'. GB = 10^9 bytes.

The 'calib' size depends on how many classes each labeled GT mask holds, which only the dataset's masks say: the
table gives, per split, the largest mean number of kept classes per labeled image that fits the goal (ADE20K <= 50 GB,
VOC <= 15 GB); `--classes-per-image VOC,ADE` also projects the export at the given means.

    python bench/maps_size.py [--classes-per-image 3,10]
"""
import argparse, tempfile, warnings
from pathlib import Path
import torch
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # raised by a dependency
from conformalsam.data import split_entries, split_names
from conformalsam.maps import save_maps

DATASETS = dict(voc=dict(K=21, size=(375, 500), background=True, goal=15e9),
                ade20k=dict(K=150, size=(512, 683), background=False, goal=50e9))

def file_sizes(K, size, background, folder):
    "Bytes of one image's file in each form: {'full', 'stats', 'calib1', 'calib2'} (calibN: N kept classes)."
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(K, *size, generator=g).softmax(0)
    classes = [f'c{k}' for k in range(K)]
    forms = dict(full={}, stats=dict(background=background), calib1=dict(keep=[0]), calib2=dict(keep=[0, 1]))
    out = {}
    for name, kw in forms.items():
        f = save_maps(Path(folder)/f'{name}.safetensors', probs, classes, labeler='bench', form=name.rstrip('12'), **kw)
        out[name] = f.stat().st_size
    return out

def split_sizes(dataset):
    "`{split: (n_labeled, n_unlabeled)}` of the shipped partitions of `dataset`."
    out = {}
    for name in split_names(dataset):
        try: out[name] = tuple(len(split_entries(dataset, name, part)) for part in ('labeled', 'unlabeled'))
        except ValueError: continue  # a whole list ('val', 'train_aug'), not a partition
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--classes-per-image', default=None, help="VOC,ADE: mean GT classes per labeled image for a "
                    "'calib' projection (default: only the break-even mean)")
    args = ap.parse_args()
    cpi = dict(zip(DATASETS, map(float, args.classes_per_image.split(',')))) if args.classes_per_image else {}
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {d: file_sizes(c['K'], c['size'], c['background'], tmp) for d, c in DATASETS.items()}
    print('bytes per image (measured on written files)')
    print(f"{'dataset':8} {'K':>4} {'H x W':>10} {'full':>12} {'stats':>10} {'calib, per class':>17}")
    for d, c in DATASETS.items():
        s = sizes[d]
        print(f"{d:8} {c['K']:>4} {'x'.join(map(str, c['size'])):>10} {s['full']:>12,} {s['stats']:>10,} "
              f"{s['calib2'] - s['calib1']:>17,}")
    for d, c in DATASETS.items():
        s, per_class = sizes[d], sizes[d]['calib2'] - sizes[d]['calib1']
        base = s['calib1'] - per_class  # a 'calib' file's bytes besides its maps
        print(f"\n{d}: projected export (labeled images full or 'calib', the rest 'stats'); "
              f"goal <= {c['goal'] / 1e9:g} GB")
        extra = f" {f'calib GB, {cpi[d]:g} cls':>16}" if d in cpi else ''
        print(f"{'split':10} {'labeled':>8} {'unlabeled':>9} {'all full GB':>11} {'full+stats GB':>13} {'fits':>5} "
              f"{'calib fits if mean classes <=':>30}{extra}")
        for name, (nl, nu) in split_sizes(d).items():
            full_stats = nl * s['full'] + nu * s['stats']
            room = (c['goal'] - nu * s['stats']) / nl - base  # bytes per labeled image left for its kept maps
            most = room / per_class
            most = f'{most:.1f}' if most < c['K'] else f"any (K={c['K']})"
            row = (f"{name:10} {nl:>8,} {nu:>9,} {(nl + nu) * s['full'] / 1e9:>11.1f} {full_stats / 1e9:>13.2f} "
                   f"{'yes' if full_stats <= c['goal'] else 'NO':>5} {most:>30}")
            if d in cpi: row += f" {(nl * (base + cpi[d] * per_class) + nu * s['stats']) / 1e9:>16.2f}"
            print(row)

if __name__ == '__main__': main()

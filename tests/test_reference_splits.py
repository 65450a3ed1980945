"The split lists shipped in the package (conformalsam/splits) against the field's counts."
from pathlib import Path
import pytest
import conformalsam
from conformalsam.data import split_entries, split_names, STANDARD_SIZES, PARTS

TRAIN = {d: s.get('aug', s['train']) for d, s in STANDARD_SIZES.items()}  # the training set a partition splits

COUNTS = [('voc', '92', 92), ('voc', '183', 183), ('voc', '366', 366), ('voc', '732', 732), ('voc', '1464', 1464),
          ('voc', '1_16', 662), ('voc', '1_8', 1323), ('voc', '1_4', 2646), ('voc', '1_2', 5291),
          ('voc', 'u2pl_1_16', 662), ('voc', 'u2pl_1_8', 1323), ('voc', 'u2pl_1_4', 2646), ('voc', 'u2pl_1_2', 5291),
          ('ade20k', '1_128', 158), ('ade20k', '1_64', 316), ('ade20k', '1_32', 632), ('ade20k', '1_16', 1263),
          ('ade20k', '1_8', 2526), ('cityscapes', '1_30', 100), ('cityscapes', '1_16', 186), ('cityscapes', '1_8', 372),
          ('cityscapes', '1_4', 744), ('cityscapes', '1_2', 1488)]

def images(entries): return {img for img, _ in entries}

@pytest.mark.parametrize('dataset,name,n_labeled', COUNTS)
def test_split_counts(dataset, name, n_labeled):
    labeled, unlabeled = (split_entries(dataset, name, p) for p in PARTS)
    assert len(labeled) == n_labeled
    assert len(labeled) + len(unlabeled) == TRAIN[dataset]
    assert not images(labeled) & images(unlabeled)
    assert not (images(labeled) | images(unlabeled)) & images(split_entries(dataset, 'val'))
    assert all(m is not None for _, m in labeled)

def test_every_shipped_partition_is_counted():
    shipped = {(d, n) for d in STANDARD_SIZES for n in split_names(d) if n not in ('val', 'train_aug')}
    assert shipped == {(d, n) for d, n, _ in COUNTS}

@pytest.mark.parametrize('dataset', STANDARD_SIZES)
def test_val_counts(dataset):
    assert len(split_entries(dataset, 'val')) == STANDARD_SIZES[dataset]['val']

def test_every_voc_partition_splits_voc_aug():
    train_aug = images(split_entries('voc', 'train_aug'))
    assert len(train_aug) == 10582
    for n in split_names('voc'):
        if n in ('val', 'train_aug'): continue
        assert images(split_entries('voc', n, 'labeled')) | images(split_entries('voc', n, 'unlabeled')) == train_aug, n

def test_voc_labeled_sets():
    fine = images(split_entries('voc', '1464', 'labeled'))  # VOC's 1,464 finely annotated training images
    for n in ('92', '183', '366', '732', 'u2pl_1_16', 'u2pl_1_8'): assert images(split_entries('voc', n, 'labeled')) <= fine, n
    for n in ('u2pl_1_4', 'u2pl_1_2'): assert fine <= images(split_entries('voc', n, 'labeled')), n  # U2PL: fine ones first

def test_shipped_lists_are_small():
    sizes = [p.stat().st_size for p in (Path(conformalsam.__file__).parent/'splits').glob('*.tar.xz')]
    assert len(sizes) == 3 and sum(sizes) < 500_000

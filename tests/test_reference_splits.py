"The split-file reader against the field's standard split lists (../shared/reference/splits beside the checkout)."
from pathlib import Path
import pytest
from conformalsam.data import read_split

SPLITS = Path(__file__).resolve().parents[2]/'shared'/'reference'/'splits'
pytestmark = pytest.mark.skipif(not SPLITS.is_dir(), reason=f"reference splits not found at {SPLITS}")

# dataset folder -> (training-set size, val size): VOC-aug 10,582 / 1,449; ADE20K 20,210 / 2,000; Cityscapes 2,975 / 500
TOTALS = {'pascal': (10582, 1449), 'ade': (20210, 2000), 'cityscapes': (2975, 500)}

@pytest.mark.parametrize('split,n_labeled', [('pascal/92', 92), ('pascal/183', 183), ('pascal/366', 366),
    ('pascal/732', 732), ('pascal/1464', 1464), ('pascal/1_16', 662), ('pascal/1_8', 1323), ('pascal/1_4', 2646),
    ('pascal/1_2', 5291), ('pascal/u2pl_1_16', 662), ('pascal/u2pl_1_8', 1323), ('pascal/u2pl_1_4', 2646),
    ('ade/1_128', 158), ('ade/1_64', 316), ('ade/1_32', 632), ('ade/1_16', 1263), ('ade/1_8', 2526),
    ('cityscapes/1_30', 100), ('cityscapes/1_16', 186), ('cityscapes/1_8', 372), ('cityscapes/1_4', 744),
    ('cityscapes/1_2', 1488)])
def test_split_counts(split, n_labeled):
    labeled, unlabeled = read_split(SPLITS/split/'labeled.txt'), read_split(SPLITS/split/'unlabeled.txt')
    assert len(labeled) == n_labeled
    assert len(labeled) + len(unlabeled) == TOTALS[split.split('/')[0]][0]
    assert not set(labeled) & set(unlabeled)
    assert all(m is not None for _, m in labeled)

@pytest.mark.parametrize('dataset', TOTALS)
def test_val_counts(dataset):
    assert len(read_split(SPLITS/dataset/'val.txt')) == TOTALS[dataset][1]

def test_voc_aug_list_is_union_of_a_split():
    train_aug = set(read_split(SPLITS/'pascal'/'train_aug.txt'))
    assert len(train_aug) == 10582
    s = SPLITS/'pascal'/'1_16'
    assert set(read_split(s/'labeled.txt')) | set(read_split(s/'unlabeled.txt')) == train_aug

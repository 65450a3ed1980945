"The experiment notebooks run under papermill, the way users run them: parameters injected, every cell executed."
import json, os
from pathlib import Path
import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
TINY = dict(data_root='synthetic', epochs=2, crop=32, num_workers=0, synthetic=dict(n_train=32, n_val=8, size=32))

def _run(nb, tmp_path, **params):
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    out = tmp_path/f'{nb}.out.ipynb'
    pm.execute_notebook(str(NBS/f'{nb}.ipynb'), str(out), parameters=dict(TINY, results_dir=str(tmp_path/'results'), **params),
                        cwd=str(tmp_path), progress_bar=False, kernel_name='python3')
    outs = [o for c in json.loads(out.read_text())['cells'] for o in c.get('outputs', [])]
    text = ''.join(''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/html', '')) for o in outs)
    return text, json.loads((tmp_path/'results'/'results.json').read_text())

def test_voc_count_split_on_synthetic(tmp_path):
    methods = ['label-only', 'allspark', 'conformalsam(allspark)', 'cp+sr']  # Table 2's rows
    # `-p split 92` as users type it (papermill passes the int 92): the synthetic 1_16 split stands in for it
    text, recs = _run('exp_voc', tmp_path, split=92, methods=methods)
    assert [(r['split'], r['method']) for r in recs] == [('92', m) for m in methods]
    assert 'SIMULATED: Table 2' in text and '50.65' in text  # label-only's Table 2 cell beside ours
    for paper in (76.07, 80.69, 81.21): assert str(paper) in text

def test_missing_data_fails_early(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="data_root='synthetic'"):
        _run('exp_voc', tmp_path, data_root=str(tmp_path/'VOCdevkit'), split='1_16')
    assert not (tmp_path/'results'/'results.json').exists()  # nothing was trained

def test_voc_and_ade_share_one_body():
    "exp_voc and exp_ade differ only in their header and parameter defaults: their other cells are the same."
    def body(nb): return [c['source'] for c in json.loads((NBS/f'{nb}.ipynb').read_text())['cells'][1:]
                          if 'parameters' not in c.get('metadata', {}).get('tags', [])]
    assert body('exp_voc') == body('exp_ade')

# Every other experiment notebook, end to end on the tiny benchmark (CI runs the library notebooks with nbdev_test and
# these with papermill: their defaults train for minutes; tools/execute_notebooks.py runs them on their defaults).
@pytest.mark.parametrize('nb, params, rows', [
    # 1_2: 16 labeled images, enough for cp-risk's level 0.1 (> 1/(n+1))
    ('exp_ablation', dict(seeds=1, split='1_2'),
     ['label-only', 'full', 'self-training', 'labeler-raw', 'labeler-raw+sr', 'cp', 'cp+sr', 'cp-risk']),
    ('exp_regime', dict(splits=['1_4', '1_2'], seeds=1), ['label-only', 'full'] * 2),
    ('exp_ade', dict(methods=['label-only', 'cp+sr']), ['label-only', 'cp+sr']),
    ('exp_labeler_only', {}, ['label-only', 'labeler-raw']),
    ('exp_cp_variants', dict(variants=['cp', 'cp-image'], alphas=[0.1, 0.05]), ['cp', 'cp', 'cp-image', 'cp-image']),
    ('exp_sr_start', dict(sr_epochs=[1, 2]), ['cp+sr', 'cp+sr']),
])
def test_experiment_notebook(tmp_path, nb, params, rows):
    text, recs = _run(nb, tmp_path, **params)
    assert sorted(r['method'] for r in recs) == sorted(rows)
    assert all(r['simulated'] and 0 <= r['miou'] <= 1 for r in recs) and 'SIMULATED' in text
    tables = tmp_path/'tables.ipynb'  # the paper's tables from these records
    pm.execute_notebook(str(NBS/'exp_tables.ipynb'), str(tables), parameters=dict(results_dir=str(tmp_path/'results')),
                        cwd=str(tmp_path), progress_bar=False, kernel_name='python3')
    assert 'not run' in tables.read_text()

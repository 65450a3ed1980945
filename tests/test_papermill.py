"The experiment notebooks run under papermill, the way users run them: parameters injected, every cell executed."
import json, os
from pathlib import Path
import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
TINY = dict(data_root='synthetic', split='1_4', epochs=2, sr_epoch=1, crop=32, num_workers=0,
            synthetic=dict(n_train=16, n_val=8, size=32))

def _run(nb, tmp_path, **params):
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    out = tmp_path/f'{nb}.out.ipynb'
    pm.execute_notebook(str(NBS/f'{nb}.ipynb'), str(out), parameters=dict(TINY, results_dir=str(tmp_path/'results'), **params),
                        cwd=str(tmp_path), progress_bar=False, kernel_name='python3')
    text = ''.join(''.join(o.get('text', '')) for c in json.loads(out.read_text())['cells'] for o in c.get('outputs', []))
    return text, json.loads((tmp_path/'results'/'results.json').read_text())

def test_voc_count_split_on_synthetic(tmp_path):
    methods = ['label-only', 'allspark', 'conformalsam(allspark)', 'cp+sr']  # Table 2's rows (label-only from Table 1)
    # `-p split 92` as users type it (papermill passes the int 92): the synthetic 1_16 split, a single labeled image
    text, recs = _run('exp_voc', tmp_path, split=92, methods=methods)
    assert [(r['split'], r['method']) for r in recs] == [('92', m) for m in methods]
    assert 'SIMULATED: Table 2' in text and '(paper 50.65)' in text
    for m, paper in zip(methods[1:], (76.07, 80.69, 81.21)): assert f'| {m} | ' in text and f'(paper {paper})' in text

def test_missing_data_fails_early(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="data_root='synthetic'"):
        _run('exp_voc', tmp_path, data_root=str(tmp_path/'VOCdevkit'), split='1_16')
    assert not (tmp_path/'results').exists()  # nothing was written

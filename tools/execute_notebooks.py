#!/usr/bin/env python
"""Execute the notebooks in place so that they carry their outputs (values, figures, tables), small and clean.

    python tools/execute_notebooks.py              # every notebook of nbs/
    python tools/execute_notebooks.py nbs/03*.ipynb

Each notebook runs top to bottom in a fresh Jupyter kernel (papermill, default parameters, working folder nbs/),
offline (`HF_HUB_OFFLINE=1`), with figures at 100 dpi (7-point text stays readable). Then what is noise to a reader on
GitHub is dropped: progress bars, widget views (their text fallback stays), execution counts and metadata
(`nbdev_clean`, on the notebooks run only). A notebook that fails stops the script with its error; the notebook keeps
its previous outputs.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_PROGRESS = re.compile(r'<progress|fastprogress|\|[█▉▊▋▌▍▎▏ ]+\|')
_TQDM = re.compile(r'\d+%\|[█▉▊▋▌▍▎▏ ]*\|')  # a tqdm bar's text, as a widget's plain-text fallback shows it

def _is_noise(out):
    "Progress bars (fastprogress HTML, tqdm-like text) and widget views."
    data = out.get('data', {})
    if 'application/vnd.jupyter.widget-view+json' in data:
        plain = ''.join(data.get('text/plain', ''))  # a string or a list of lines
        if plain and not plain.startswith(('HBox', 'VBox', 'IntProgress', 'FloatProgress')) and not _TQDM.search(plain):
            out['data'] = {'text/plain': data['text/plain']}
            return False
        return True
    if 'text/html' in data and set(data) <= {'text/html', 'text/plain'} and not ''.join(data.get('text/html', '')).strip():
        return True  # what a finished progress bar leaves: an empty HTML display
    if _TQDM.search(''.join(data.get('text/plain', ''))): return True
    text = ''.join(data.get('text/html', '')) if data else ''.join(out.get('text', ''))
    return bool(_PROGRESS.search(text)) and out.get('output_type') != 'error'

def clean_outputs(path):
    "Drop noise outputs of every code cell of the notebook at `path`; returns the number dropped."
    nb, dropped = json.loads(Path(path).read_text()), 0
    for c in nb['cells']:
        if not c.get('metadata', {}).get('tags', True): del c['metadata']['tags']  # papermill adds empty tag lists
        if c['cell_type'] != 'code': continue
        keep = [o for o in c.get('outputs', []) if not _is_noise(o)]
        dropped += len(c.get('outputs', [])) - len(keep)
        c['outputs'] = keep
    nb.get('metadata', {}).pop('widgets', None)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return dropped

def execute(path, timeout):
    "Run one notebook in place through papermill; raises on failure."
    import papermill as pm
    with tempfile.TemporaryDirectory() as cfg:
        Path(cfg, 'matplotlibrc').write_text('figure.dpi: 100\nsavefig.dpi: 100\n')
        env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}  # the kernel's inline backend draws figures
        env.update(HF_HUB_OFFLINE='1', MPLCONFIGDIR=cfg, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
        old = dict(os.environ)
        os.environ.clear(); os.environ.update(env)
        try:
            tmp = Path(cfg)/Path(path).name  # outside nbs/: a notebook that runs nbdev_export must not see it
            pm.execute_notebook(str(path), str(tmp), cwd=str(Path(path).parent), kernel_name='python3',
                                progress_bar=False, execution_timeout=timeout)
            shutil.copyfile(tmp, path)
        finally:
            os.environ.clear(); os.environ.update(old)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', help='notebooks to execute (default: every nbs/*.ipynb)')
    ap.add_argument('--timeout', type=int, default=1800, help='seconds allowed per cell')
    args = ap.parse_args(argv)
    # exp_tables last: it lays out the records the other exp_* notebooks leave in nbs/results
    nbs = [Path(p) for p in args.notebooks] or sorted((REPO/'nbs').glob('*.ipynb'), key=lambda p: (p.stem == 'exp_tables', p.name))
    for p in nbs:
        t0 = time.time()
        execute(p.resolve(), args.timeout)
        n = clean_outputs(p)
        print(f"{p.name}: {time.time() - t0:.0f} s, {p.stat().st_size/1024:.0f} KiB ({n} progress/widget outputs dropped)",
              flush=True)
    for p in nbs:  # metadata and execution counts of the notebooks run (outputs stay); the others are left alone
        subprocess.run(['nbdev_clean', '--fname', str(p)], cwd=REPO, check=True)
    total = sum(p.stat().st_size for p in (REPO/'nbs').glob('*.ipynb'))
    print(f"nbs/: {total/2**20:.1f} MiB in all")

if __name__ == '__main__': main()

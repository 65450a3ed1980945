"""Render README.md from nbs/index.ipynb (quarto, which `nbdev_readme` needs, cannot be installed here).

`python .ci/readme.py` writes README.md; tests/test_readme.py checks that README.md is up to date."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    "Markdown of the notebook: markdown cells as they are, code cells (but `#|` directives) as python blocks."
    out = []
    for cell in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown': out.append(src)
        elif cell['cell_type'] == 'code':
            lines = src.splitlines()
            if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if code: out.append(f'```python\n{code}\n```')
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__': (ROOT/'README.md').write_text(render())

"README.md is the rendering of nbs/index.ipynb, and CI runs exactly the commands it shows."
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_up_to_date():
    render = runpy.run_path(str(ROOT/'.ci'/'readme.py'))['render']
    assert (ROOT/'README.md').read_text() == render(), "README.md is stale: run `python .ci/readme.py`"

def test_ci_runs_readme_commands():
    readme, ci = (ROOT/'README.md').read_text(), (ROOT/'.ci'/'run').read_text()
    for var in ('INSTALL', 'TEST'):
        line = next(l for l in ci.splitlines() if l.startswith(f'{var}='))
        cmd = line.split('=', 1)[1].strip("'")
        assert f'```sh\n{cmd}\n```' in readme, f"README does not show the command .ci/run runs as {var}: {cmd}"

"The wheel carries the package data the library reads at run time: the split lists and the synthetic encoder."
import shutil, subprocess, sys, zipfile
from pathlib import Path

def test_wheel_carries_splits_and_weights(tmp_path):
    root, src = Path(__file__).parents[1], tmp_path/'src'
    # a copy without .git: what MANIFEST.in declares must suffice (a git plugin of setuptools would add every tracked file)
    shutil.copytree(root/'conformalsam', src/'conformalsam', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('setup.py', 'settings.ini', 'MANIFEST.in', 'README.md'): shutil.copy(root/f, src/f)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(src), '--no-deps', '--no-build-isolation', '-q',
                    '-w', str(tmp_path)], check=True)
    names = set(zipfile.ZipFile(next(tmp_path.glob('conformalsam-*.whl'))).namelist())
    for f in ('splits/voc.tar.xz', 'weights/synthetic-tiny/model.safetensors', 'weights/synthetic-tiny/config.json',
              'weights/synthetic-tiny/pretrain.json'):
        assert f'conformalsam/{f}' in names, f"the wheel lacks conformalsam/{f}: see MANIFEST.in"

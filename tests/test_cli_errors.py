"""Every command speaks plainly: an ordinary user error is one line, `<script>: error: ...`, naming the culprit, with
exit status 2 (argparse's convention) and no traceback; `--help` exits 0 and ends with one worked example.

The console scripts are read from settings.ini (`console_scripts`), so a new one is covered, or fails here until it has
a case in `USER_ERRORS`; `conformalsam/seem_export.py` (a standalone script run in SEEM's environment) is checked too.
The commands exist after `pip install -e .`.
"""
import configparser, shutil, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO/'tests'))
from refusals import run_cli

def console_scripts():
    "`{name: 'module:function'}` of settings.ini's `console_scripts`."
    cfg = configparser.ConfigParser(); cfg.read(REPO/'settings.ini')
    return dict(s.split('=', 1) for s in cfg['DEFAULT'].get('console_scripts', '').split())

SEEM_EXPORT = 'seem_export.py'
SCRIPTS = [*console_scripts(), SEEM_EXPORT]

# script: (arguments with one ordinary mistake, given the test's folder `d`; the text the message must name)
USER_ERRORS = {
    'conformalsam_train': lambda d: ([d/'nowhere_root', d/'split', d/'val.txt', d/'run'], 'nowhere_root'),
    'conformalsam_pseudo': lambda d: ([d/'nowhere_root', d/'labeled.txt', d/'unlabeled.txt', d/'cache', d/'out',
                                       '--labeler', 'simulated'], 'nowhere_root'),
    'conformalsam_sbd': lambda d: ([d/'nowhere_sbd', d], 'nowhere_sbd'),
    'conformalsam_check': lambda d: ([d/'nowhere_root', '92'], 'nowhere_root'),
    # a model and images that do not exist: the first one checked is named
    'conformalsam_predict': lambda d: ([d/'nowhere_model', d/'nowhere_images', d/'out'], 'nowhere_'),
    SEEM_EXPORT: lambda d: (['--seem-root', d, '--checkpoint', d/'seem_focall_v1.pt', '--images', d/'nowhere_images',
                             '--out', d/'maps', '--classes', 'background,cat', '--form', 'full'], 'nowhere_images'),
}

def command(name):
    "The command line that runs script `name`."
    if name == SEEM_EXPORT: return [sys.executable, REPO/'conformalsam'/SEEM_EXPORT]
    exe = shutil.which(name)
    if exe is None: pytest.fail(f"console script {name} is not installed: run `pip install --no-deps -e .`")
    return [exe]

def plain(p, culprit):
    "Assert that the finished command `p` refused with one line naming `culprit`, status 2, no traceback."
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert 'Traceback' not in p.stderr + p.stdout, p.stderr[-3000:]
    assert p.returncode == 2, f"exit status {p.returncode}, expected 2:\n{p.stderr[-3000:]}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{p.stderr[-3000:]}"
    assert ': error: ' in lines[0] and culprit in lines[0], lines[0]

@pytest.mark.parametrize('name', SCRIPTS)
def test_user_error_is_one_line_and_status_2(name, tmp_path):
    if name not in USER_ERRORS: pytest.fail(f"console script {name} has no case in USER_ERRORS: add one")
    args, culprit = USER_ERRORS[name](tmp_path)
    p = run_cli(*command(name), *args, timeout=120)
    plain(p, culprit)
    assert p.stderr.startswith(f"{name}: error: "), p.stderr

@pytest.mark.parametrize('name, first', [('conformalsam_sbd', 'sbd'), ('conformalsam_check', 'root'),
                                         ('conformalsam_pseudo', 'root'), (SEEM_EXPORT, '--seem-root')])
def test_missing_arguments_are_one_line(name, first):
    "argparse's own errors too: one line (no usage block), naming what is missing, status 2."
    plain(run_cli(*command(name), timeout=120), first)

def test_pseudo_without_labeler_says_how_to_choose(tmp_path):
    "The one multi-line refusal: no `--labeler` prints `factory.CHOOSE_LABELER`, the menu of labelers, after its line."
    p = run_cli(*command('conformalsam_pseudo'), tmp_path, tmp_path/'l.txt', tmp_path/'u.txt', tmp_path/'c',
                tmp_path/'o', timeout=120)
    assert p.returncode == 2 and 'Traceback' not in p.stderr, p.stderr[-3000:]
    assert p.stderr.startswith('conformalsam_pseudo: error: --labeler is required') and 'simulated' in p.stderr

@pytest.mark.parametrize('name', SCRIPTS)
def test_help_ends_with_an_example(name):
    p = run_cli(*command(name), '--help', timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    last = p.stdout.rstrip().split('\n\n')[-1].splitlines()  # the last paragraph
    assert last[0].lower().startswith('example'), p.stdout[-1500:]
    run = name if name != SEEM_EXPORT else f'python {SEEM_EXPORT}'
    assert last[1].strip().startswith(run), f"the example does not run {run}:\n" + '\n'.join(last)

"""The bad-input catalogue: every bad input is refused early, with one message that names the culprit.

Each area keeps its cases in `tests/test_refusals_<area>.py` as a list of one-line tuples

    (name, call, error, culprit)

- `call(env)` makes the bad call; `env` is the area's fixture (a namespace of prepared files and objects);
- `error` is the exception type it must raise, or `CLI` for a console command (`call` returns the
  `subprocess.CompletedProcess` of `run_cli`): it must exit non-zero;
- `culprit` is the text the message must contain (the file, value or setting at fault), or `culprit(env)` for text
  that depends on the fixture (a path).

and hands them to `check` through `cases`:

    CASES = [('alpha above 1', lambda e: pixel_quantiles(e.scores, 1.5), ValueError, 'alpha=1.5'), ...]

    @cases(CASES)
    def test_refused(case, env): check(case, env)

Adding a case is adding one line to a list.
"""
import os, subprocess, sys
import pytest

CLI = 'cli'  # `error` of a case whose `call` runs a console command

def run_cli(*args, timeout=300, **env): # the command and its arguments
    "Run a console command with the tests' environment; its `CompletedProcess` (stdout and stderr as text)."
    e = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1', MPLBACKEND='Agg', CUDA_VISIBLE_DEVICES='', **env)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=e, timeout=timeout)

def cases(cs): # a list of `(name, call, error, culprit)` tuples
    "Parametrize a test over the cases, one test id per case name."
    names = [c[0] for c in cs]
    dup = {n for n in names if names.count(n) > 1}
    if dup: raise ValueError(f"case names must be unique, repeated: {sorted(dup)}")
    return pytest.mark.parametrize('case', cs, ids=names)

def check(case, env):
    "Assert that the case's call is refused with its error type and a message naming its culprit."
    name, call, error, culprit = case
    want = culprit(env) if callable(culprit) else culprit
    if error == CLI:
        p = call(env)
        out = p.stdout + p.stderr
        assert p.returncode != 0, f"{name}: the command exited 0; output:\n{out[-2000:]}"
        msg = out
    else:
        with pytest.raises(error) as info: call(env)
        msg = str(info.value)
    assert str(want) in msg, f"{name}: the message does not name {want!r}:\n{msg[-2000:]}"

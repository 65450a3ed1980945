"""The house-style measures of issue 20 over the exported package (`conformalsam/*.py`, not `_modidx.py`):
lines over 100 and 120 characters (the `__all__` block nbdev writes is not counted: nbdev formats it itself),
function sizes, functions with more than 8 parameters, and import cycles.
Usage: python tools/code_stats.py [package folder]"""
import ast, statistics, sys
from pathlib import Path

def _written(text):
    "The lines of a module but its generated `__all__` block (from `# %% auto #0` to the next cell marker)."
    out, skip = [], False
    for l in text.splitlines():
        if l.startswith('# %%'): skip = l.startswith('# %% auto')
        if not skip: out.append(l)
    return out

def stats(pkg):
    files = sorted(f for f in Path(pkg).glob('*.py') if f.name != '_modidx.py')
    lines = [l for f in files for l in _written(f.read_text()) if l.strip()]
    sizes, wide, imports = [], [], {}
    for f in files:
        tree, mod = ast.parse(f.read_text()), f.stem
        imports[mod] = {n.module.removeprefix('conformalsam.') for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                        and n.module and (n.level == 1 or n.module.startswith('conformalsam.'))}
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes.append(n.end_lineno - n.lineno + 1)
                a = n.args
                params = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ('self', 'cls')]
                if len(params) > 8: wide.append((f'{mod}.{n.name}', len(params)))
    return lines, sizes, wide, imports

def cycles(imports):
    "Pairs of modules that import each other, directly or through others."
    def reach(m, seen):
        for d in imports.get(m, ()):
            if d not in seen: seen.add(d); reach(d, seen)
        return seen
    r = {m: reach(m, set()) for m in imports}
    return sorted({tuple(sorted((a, b))) for a in r for b in r[a] if a != b and a in r.get(b, ())})

if __name__ == '__main__':
    lines, sizes, wide, imports = stats(sys.argv[1] if len(sys.argv) > 1 else 'conformalsam')
    n100, n120 = sum(len(l) > 100 for l in lines), sum(len(l) > 120 for l in lines)
    print(f"code lines: {len(lines)}; over 100 chars: {n100} ({100 * n100 / len(lines):.1f}%); over 120: {n120}")
    print(f"functions: {len(sizes)}; mean / median lines: {statistics.mean(sizes):.1f} / {statistics.median(sizes)}; "
          f"over 30 lines: {sum(s > 30 for s in sizes)}")
    print(f"functions with more than 8 parameters: {len(wide)}" + ''.join(f"\n  {n}: {k}" for n, k in sorted(wide)))
    cyc = cycles(imports)
    print(f"import cycles: {len(cyc)}" + ''.join(f"\n  {a} <-> {b}" for a, b in cyc))

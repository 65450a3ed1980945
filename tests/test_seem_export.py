"""`conformalsam/seem_export.py` run against a stand-in of SEEM v1.0 (tests/seem_standin, CPU, tiny random weights).

The stand-in has SEEM's module layout and the behaviour of the calls the script makes, each citing the SEEM file and
line it follows (branch v1.0, commit 7b2e76d). Oracles come from the stand-in's *unmodified* SEEM code path, called as
SEEM's own `inference/xdecoder/infer_semseg.py` calls it. `SEEM_EXPORT_SCRIPT=path` runs these tests on another copy
of the script (e.g. an older one)."""
import importlib.util, json, os, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from torchvision import transforms
from conformalsam.maps import load_maps
from conformalsam.pseudo import sufficient_stats

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT/'tests'/'seem_standin'
CONFIG = 'configs/seem/focall_unicl_lang_v1.yaml'
SIZES = {'a': (24, 16), 'b': (20, 30), 'c': (16, 16)}  # (width, height); b is resized to a shorter side of 16
VOC = ['background', 'cat', 'dog', 'bird']
ADE = ['wall', 'sky', 'tree']

def _load_script():
    path = Path(os.environ.get('SEEM_EXPORT_SCRIPT', ROOT/'conformalsam'/'seem_export.py'))
    spec = importlib.util.spec_from_file_location('seem_export_under_test', path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

export = _load_script()

def _forget_seem():
    for name in [m for m in sys.modules if m.split('.')[0] in ('modeling', 'utils')]: del sys.modules[name]

@pytest.fixture(scope='module', autouse=True)
def standin():
    "SEEM's top-level packages `modeling` and `utils` come from the stand-in for these tests only."
    _forget_seem(); sys.path.insert(0, str(STANDIN))
    yield
    sys.path.remove(str(STANDIN)); _forget_seem()

@pytest.fixture(scope='module')
def data(tmp_path_factory, standin):
    "A checkpoint of the stand-in's model (the model's state dict, as SEEM's `save_pretrained` writes) and 3 images."
    tmp = tmp_path_factory.mktemp('seem')
    from modeling import build_model
    from utils.arguments import load_opt_from_config_files
    from utils.distributed import init_distributed
    torch.manual_seed(0)
    torch.save(build_model(init_distributed(load_opt_from_config_files([str(STANDIN/CONFIG)]))).state_dict(),
               tmp/'seem_focall_v1.pt')
    rng = np.random.default_rng(0)
    (tmp/'imgs').mkdir()
    for n, (w, h) in SIZES.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp/'imgs'/f'{n}.png')
    return tmp

def cli(data, out, *extra, classes=VOC, checkpoint=None):
    "The script's arguments: the stand-in, its checkpoint (or `checkpoint`), the 3 images, `classes`, `--out out`."
    ckpt = checkpoint or data/'seem_focall_v1.pt'
    return ['--seem-root', str(STANDIN), '--config', CONFIG, '--checkpoint', str(ckpt), '--images', str(data/'imgs'),
            '--classes', ','.join(classes), '--out', str(data/out), *extra]

def run(data, out, *extra, classes=VOC):
    "The script's command line, in this process, with a shorter side of 16 (images a and c are not resized)."
    export.main(cli(data, out, '--short-side', '16', *extra, classes=classes))
    return data/out

def seem_own(data, texts, name):
    "SEEM's unmodified semantic maps of image `name` for `texts`, as infer_semseg.py:38-79 computes them."
    from modeling.BaseModel import BaseModel
    from modeling import build_model
    from utils.arguments import load_opt_from_config_files
    from utils.distributed import init_distributed
    opt = init_distributed(load_opt_from_config_files([str(STANDIN/CONFIG)]))
    model = BaseModel(opt, build_model(opt)).from_pretrained(str(data/'seem_focall_v1.pt')).eval()
    model.model.panoptic_on = model.model.instance_on = False  # the stand-in models semantic inference only
    model.model.sem_seg_head.predictor.lang_encoder.get_text_embeddings(texts, is_eval=True)
    im = Image.open(data/'imgs'/f'{name}.png').convert('RGB')
    x = torch.from_numpy(np.asarray(transforms.Resize(16, interpolation=Image.BICUBIC)(im)).copy()).permute(2, 0, 1)
    with torch.no_grad(): out = model.model.evaluate([{'image': x, 'height': im.size[1], 'width': im.size[0]}])
    return out[0]['sem_seg']

def meta_of(path):
    with safe_open(str(path), framework='pt') as f: return f.metadata()

def test_voc_k_channels_in_class_order_background_from_seems_trailing_column(data):
    out = run(data, 'voc', '--form', 'full')
    objects = VOC[1:]
    for n, (w, h) in SIZES.items():
        probs, meta = load_maps(out/f'{n}.safetensors', classes=VOC, size=(h, w))
        assert meta['bg_channel'] == 'seem-trailing' and meta['form'] == 'full' and meta['prompts'] == VOC
        # SEEM drops its last column (seem_model_v1.py:1015): texts [background, objects] give background and all
        # objects but the last, texts [objects, background] every object, both over the same softmax as the export's
        first, last = seem_own(data, ['background'] + objects, n), seem_own(data, objects + ['background'], n)
        assert first.shape[0] == len(objects) and last.shape[0] == len(objects)
        torch.testing.assert_close(first[1:], last[:-1])
        raw = torch.cat([first[:1], last])
        torch.testing.assert_close(probs, raw / raw.sum(0), atol=1e-3, rtol=0)
    # class order: permuting the object classes permutes the channels
    perm = [0, 2, 3, 1]
    out2 = run(data, 'voc_perm', '--form', 'full', classes=[VOC[i] for i in perm])
    for n in SIZES:
        torch.testing.assert_close(load_maps(out2/f'{n}.safetensors')[0], load_maps(out/f'{n}.safetensors')[0][perm],
                                   atol=1e-3, rtol=0)

def test_prompted_background_is_seems_own_and_weighs_less(data):
    out = run(data, 'voc_prompted', '--form', 'full', '--background', 'prompted')
    trailing = run(data, 'voc', '--form', 'full')
    less = 0
    for n in SIZES:
        probs, meta = load_maps(out/f'{n}.safetensors', classes=VOC)
        assert meta['bg_channel'] == 'prompted'
        own = seem_own(data, VOC + ['background'], n)  # SEEM's callers append 'background' and SEEM drops it
        torch.testing.assert_close(probs, own / own.sum(0), atol=1e-3, rtol=0)
        bg = load_maps(trailing/f'{n}.safetensors')[0][0]
        assert (probs[0] <= bg + 1e-3).all()  # two equal 'background' columns halve what is kept of each query
        less += int((probs[0] < bg - 1e-3).sum())
    assert less > 0

def test_no_background_drops_seems_trailing_column(data):
    out = run(data, 'ade', '--form', 'full', classes=ADE)
    for n in SIZES:
        probs, meta = load_maps(out/f'{n}.safetensors', classes=ADE)
        assert meta['bg_channel'] == 'none'
        own = seem_own(data, ADE + ['background'], n)
        torch.testing.assert_close(probs, own / own.sum(0), atol=1e-3, rtol=0)

@pytest.mark.parametrize('classes', [VOC, ADE])
def test_stats_form_equals_sufficient_stats_of_the_full_form(data, classes):
    tag = 'voc' if classes is VOC else 'ade'
    (data/'labeled.txt').write_text('imgs/b.png\n')
    mixed, full = run(data, f'{tag}_mixed', '--full-list', str(data/'labeled.txt'), classes=classes), data/tag
    run(data, tag, '--form', 'full', classes=classes)
    for n in SIZES:
        assert meta_of(mixed/f'{n}.safetensors')['form'] == ('full' if n == 'b' else 'stats')
        if n == 'b': continue
        stats = load_file(mixed/f'{n}.safetensors')
        want = sufficient_stats(load_maps(full/f'{n}.safetensors')[0], background=classes is VOC)
        assert set(stats) == set(want) == ({'top', 'p_top', 'p_bg'} if classes is VOC else {'top', 'p_top'})
        assert stats['top'].dtype == torch.uint8 and stats['p_top'].dtype == torch.float16
        for k, v in want.items(): assert torch.equal(stats[k].to(v.dtype), v), k  # bit-exact

def test_text_embeddings_once_per_run(data, monkeypatch):
    from modeling.language.vlpencoder import LanguageEncoder
    calls, embed = [], LanguageEncoder.get_text_embeddings
    def counted(self, class_names, *a, **k):
        calls.append(list(class_names))
        return embed(self, class_names, *a, **k)
    monkeypatch.setattr(LanguageEncoder, 'get_text_embeddings', counted)
    run(data, 'once', '--form', 'stats')
    assert calls == [['cat', 'dog', 'bird', 'background']]  # one call for the three images
    model = export.load_seem(STANDIN, CONFIG, data/'seem_focall_v1.pt')
    for texts in (['cat', 'background'], ['cat', 'background'], ['dog', 'background']): export.set_texts(model, texts)
    assert calls[1:] == [['cat', 'background'], ['dog', 'background']]  # the same texts again: nothing to do

def test_resumes_skips_done_files_and_reports_progress(data, capsys):
    out = run(data, 'resume', '--form', 'stats')
    assert '3 to export' in capsys.readouterr().out
    stamps = {f.name: f.stat().st_mtime_ns for f in out.iterdir()}
    (out/'a.safetensors').unlink()
    run(data, 'resume', '--form', 'stats')
    log = capsys.readouterr().out
    assert '2 done; 1 to export' in log and '1/1 a.png (stats)' in log
    assert (out/'b.safetensors').stat().st_mtime_ns == stamps['b.safetensors']
    (data/'only_c.txt').write_text('c\n')
    run(data, 'resume', '--full-list', str(data/'only_c.txt'))  # c is stats: not done for a full list
    assert '1 to export' in capsys.readouterr().out and meta_of(out/'c.safetensors')['form'] == 'full'
    run(data, 'resume', '--form', 'stats')  # a full file serves where stats are asked for
    assert '3 done; 0 to export' in capsys.readouterr().out
    assert not [f for f in out.iterdir() if f.name.startswith('.')]
    with pytest.raises(ValueError, match="its labeler is .*short_side=16"):  # another export's files are not mixed in
        export.main(cli(data, 'resume', '--form', 'stats'))

@pytest.mark.parametrize('change, log', [('drop', r'\*UNLOADED\* sem_seg_head.predictor.class_embed'),
                                         ('reshape', r'\*UNMATCHED\* backbone.conv.weight')])
def test_refuses_a_checkpoint_seem_would_load_only_in_part(data, change, log):
    state = torch.load(data/'seem_focall_v1.pt')
    if change == 'drop': del state['sem_seg_head.predictor.class_embed']
    else: state['backbone.conv.weight'] = torch.zeros(16, 3, 2, 2)
    bad = data/f'{change}.pt'
    torch.save(state, bad)
    with pytest.raises(ValueError, match=log) as e:
        export.main(cli(data, f'bad_{change}', '--form', 'stats', checkpoint=bad))
    assert 'v1.0' in str(e.value) and export.SEEM_CHECKPOINT in str(e.value)
    assert not list((data/f'bad_{change}').iterdir())

def test_refuses_mpi_and_explains_a_missing_gpu(data, monkeypatch):
    args = cli(data, 'nogpu', '--form', 'stats')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    with pytest.raises(RuntimeError, match='without mpirun'): export.main(args)
    monkeypatch.delenv('OMPI_COMM_WORLD_SIZE')
    import modeling
    def build_without_gpu(opt): raise AssertionError("Torch not compiled with CUDA enabled")  # seem_model_v1.py:229
    monkeypatch.setattr(modeling, 'build_model', build_without_gpu)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='needs a CUDA GPU'): export.main(args)

def test_usage_names_seems_branch_and_checkpoint(capsys):
    with pytest.raises(SystemExit): export.main(['--help'])
    usage = capsys.readouterr().out
    assert 'v1.0' in usage and '7b2e76d' in usage and export.SEEM_CHECKPOINT in usage and '--device' not in usage

def test_seem_labeler_in_process_gives_the_exports_maps(data):
    "`labelers.SeemLabeler` (SEEM importable in this process) returns what the export writes, K channels in order."
    from conformalsam.labelers import SeemLabeler
    lbl = SeemLabeler(STANDIN, CONFIG, data/'seem_focall_v1.pt', short_side=16)
    out = run(data, 'labeler_oracle', '--form', 'full')
    for name in SIZES:
        got = lbl.predict([data/'imgs'/f'{name}.png'], VOC)[0]
        want = load_maps(out/f'{name}.safetensors', VOC)[0]
        assert got.shape == want.shape == (len(VOC), SIZES[name][1], SIZES[name][0])
        torch.testing.assert_close(got.half().float(), want)  # the export stores float16

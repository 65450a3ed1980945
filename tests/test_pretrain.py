"""The command that makes the shipped encoder is deterministic, and the shipped encoder is what it says it is."""
import hashlib, inspect, json, sys
from safetensors.torch import load_file
from transformers import SegformerModel
from refusals import run_cli
from conformalsam.model import segformer, SYNTHETIC_ENCODER, SEGFORMER_VARIANTS
from conformalsam.pretrain import PretrainRecipe, pretrain_cli

def digest(folder): return hashlib.sha256((folder/'model.safetensors').read_bytes()).hexdigest()

def test_command_is_deterministic(tmp_path):
    "Two runs of `python -m conformalsam.pretrain` (a few steps) write the same weights; both exit 0 and say where."
    runs = [run_cli(sys.executable, '-m', 'conformalsam.pretrain', tmp_path/n, '--steps', '6', '--bs', '2') for n in 'ab']
    for p in runs: assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(runs[0].stdout.strip().splitlines()[-1])['out'] == str(tmp_path/'a')
    assert digest(tmp_path/'a') == digest(tmp_path/'b')
    assert sorted(p.name for p in (tmp_path/'a').iterdir()) == ['config.json', 'model.safetensors', 'pretrain.json']

def test_shipped_encoder():
    "The shipped encoder loads as `tiny`, holds the weights of its file (transformers names them the legacy way on disk), and records the command's default recipe."
    m = segformer(8, 'tiny', SYNTHETIC_ENCODER)
    saved, state = load_file(SYNTHETIC_ENCODER/'model.safetensors'), m.encoder.state_dict()
    assert len(saved) == len(state)  # `segformer` refuses a checkpoint that lacks encoder weights
    ref = SegformerModel.from_pretrained(SYNTHETIC_ENCODER).state_dict()
    assert all((state[k] == v).all() for k, v in ref.items())
    recipe = json.loads((SYNTHETIC_ENCODER/'pretrain.json').read_text())['recipe']
    assert recipe == PretrainRecipe().to_dict()
    cli = {k: p.default for k, p in inspect.signature(pretrain_cli).parameters.items() if k != 'out'}
    assert cli == {k: v for k, v in recipe.items() if k in cli}  # the command's defaults are the recipe's
    assert (SYNTHETIC_ENCODER/'model.safetensors').stat().st_size < 4e6  # a few MB at most
    assert SEGFORMER_VARIANTS[recipe['variant']]['hidden_sizes'] == m.encoder.config.hidden_sizes

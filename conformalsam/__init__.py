__version__ = "0.0.1"

# fastai.layers calls `torch.jit.script` when it is imported, and torch (>= 2.9) answers with a FutureWarning that
# names a site-packages path: noise in every notebook and script that imports fastai, and nothing we can act on.
# Import it here, first, with that one warning silenced (no other warning, and only during this import).
import warnings as _warnings
with _warnings.catch_warnings():
    _warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
    import fastai.layers as _fastai_layers

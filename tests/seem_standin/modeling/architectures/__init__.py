from .seem_model_v1 import *  # SEEM v1.0 (7b2e76d) modeling/architectures/__init__.py:3 (registers seem_model_v1)
from .build import build_model  # SEEM v1.0 (7b2e76d) modeling/architectures/__init__.py:5

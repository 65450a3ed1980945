from .postprocessing import *  # SEEM v1.0 (7b2e76d) modeling/modules/__init__.py

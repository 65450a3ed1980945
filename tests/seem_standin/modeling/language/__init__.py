from .vlpencoder import *  # SEEM v1.0 (7b2e76d) modeling/language/__init__.py:1

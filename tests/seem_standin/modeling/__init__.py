"""Stand-in for SEEM v1.0 (UX-Decoder/Segment-Everything-Everywhere-All-At-Once, branch v1.0, commit 7b2e76d).

Tiny random modules with SEEM's module layout and the behaviour of the calls `conformalsam/seem_export.py` makes, for
tests on CPU. Each behaviour cites the SEEM file and line it follows; 'shim' marks the few places where the stand-in
departs from SEEM so that it runs without a GPU (SEEM hard-codes `.cuda()`)."""
from .architectures import build_model  # SEEM v1.0 (7b2e76d) modeling/__init__.py:1

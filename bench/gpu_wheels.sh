#!/usr/bin/env bash
# Download, here (where pip reaches the registry), the pure-Python wheels the device machine's image lacks, into .whl/
# (git-ignored). The image has torch, transformers, accelerate, safetensors, numpy, scipy, pandas, matplotlib, pillow,
# scikit-learn, filelock, ...; it lacks fastai and what fastai imports. `bench/gpu_session.sh` installs them there.
#
#     bash bench/gpu_wheels.sh        # then: run(command="bash bench/gpu_session.sh", carry=[".whl"])
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
for pkg in fastai==2.8.7 fastcore==1.14.5 fastprogress==1.1.6 fastdownload==0.0.8 fasttransform==0.0.2 \
           plum-dispatch==2.10.1 beartype==0.23.1 python-fasthtml==0.14.5 itsdangerous==2.2.0 \
           python-multipart==0.0.34 starlette==1.10.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl "$pkg"
done
ls -s .whl

import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')  # tests never download: they build tiny models and data
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('OMP_NUM_THREADS', '1')  # workers (pytest -n 2) and their subprocesses share few cores

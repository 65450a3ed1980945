import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')  # tests never download (DESIGN.md §6)
os.environ.setdefault('MPLBACKEND', 'Agg')

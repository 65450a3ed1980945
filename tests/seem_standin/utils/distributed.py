import os
import torch

def init_distributed(opt):
    # SEEM v1.0 (7b2e76d) utils/distributed.py:34-63: one process without MPI; cuda:LOCAL_RANK when CUDA is there
    opt['CUDA'] = opt.get('CUDA', True) and torch.cuda.is_available()
    if 'OMPI_COMM_WORLD_SIZE' not in os.environ:
        opt['env_info'] = 'no MPI'
        opt['world_size'], opt['local_size'], opt['rank'], opt['local_rank'] = 1, 1, 0, 0
        opt['master_address'], opt['master_port'] = '127.0.0.1', '8673'
    else:
        opt['world_size'] = int(os.environ['OMPI_COMM_WORLD_SIZE'])
        opt['local_size'] = int(os.environ['OMPI_COMM_WORLD_LOCAL_SIZE'])
        opt['rank'] = int(os.environ['OMPI_COMM_WORLD_RANK'])
        opt['local_rank'] = int(os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
    if not opt['CUDA']:
        assert opt['world_size'] == 1, 'multi-GPU training without CUDA is not supported'
        opt['device'] = torch.device("cpu")
    else:
        torch.cuda.set_device(opt['local_rank'])
        opt['device'] = torch.device("cuda", opt['local_rank'])
    # SEEM's apply_distributed (utils/distributed.py:11-32, via mpi4py) only opens a process group when
    # world_size > 1: not modelled
    return opt

def is_main_process():
    # SEEM v1.0 (7b2e76d) utils/distributed.py:65-70: rank 0 of MPI, or no MPI
    rank = int(os.environ['OMPI_COMM_WORLD_RANK']) if 'OMPI_COMM_WORLD_SIZE' in os.environ else 0
    return rank == 0

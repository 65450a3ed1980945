import logging
import torch
import torch.nn as nn
from utils.model import align_and_update_state_dicts

logger = logging.getLogger(__name__)

class BaseModel(nn.Module):
    # SEEM v1.0 (7b2e76d) modeling/BaseModel.py:12-29
    def __init__(self, opt, module: nn.Module):
        super().__init__()
        self.opt = opt
        self.model = module

    def forward(self, *inputs, **kwargs): return self.model(*inputs, **kwargs)

    def from_pretrained(self, load_dir):
        # SEEM v1.0 (7b2e76d) modeling/BaseModel.py:25-29: strict=False; mismatches are only logged by
        # utils/model.py:align_and_update_state_dicts
        state_dict = torch.load(load_dir, map_location=self.opt['device'])
        state_dict = align_and_update_state_dicts(self.model.state_dict(), state_dict)
        self.model.load_state_dict(state_dict, strict=False)
        return self

import logging
import yaml

logger = logging.getLogger(__name__)

def load_config_dict_to_opt(opt, config_dict):
    # SEEM v1.0 (7b2e76d) utils/arguments.py:9-27: dotted keys override nested dicts
    if not isinstance(config_dict, dict): raise TypeError("Config must be a Python dictionary")
    for k, v in config_dict.items():
        k_parts = k.split('.')
        pointer = opt
        for k_part in k_parts[:-1]:
            if k_part not in pointer: pointer[k_part] = {}
            pointer = pointer[k_part]
            assert isinstance(pointer, dict), "Overriding key needs to be inside a Python dict."
        ori_value = pointer.get(k_parts[-1])
        pointer[k_parts[-1]] = v
        if ori_value: logger.warning(f"Overrided {k} from {ori_value} to {pointer[k_parts[-1]]}")

def load_opt_from_config_files(conf_files):
    # SEEM v1.0 (7b2e76d) utils/arguments.py:30-47: later files override earlier ones
    opt = {}
    for conf_file in conf_files:
        with open(conf_file, encoding='utf-8') as f: config_dict = yaml.safe_load(f)
        load_config_dict_to_opt(opt, config_dict)
    return opt

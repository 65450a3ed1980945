def get_prompt_templates():
    # SEEM v1.0 (7b2e76d) utils/prompt_engineering.py:4-88 lists 81 templates; the stand-in keeps its first three
    return ['{}.', 'a photo of a {}.', 'a bad photo of a {}.']

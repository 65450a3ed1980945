import torch
from torch import nn
from utils.prompt_engineering import get_prompt_templates

__all__ = ['LanguageEncoder', 'Tokenizer']

def _cuda(t):
    # shim: SEEM v1.0 (7b2e76d) modeling/language/vlpencoder.py:107 calls `.cuda()` on the tokens unconditionally;
    # the stand-in keeps them on the CPU when there is no GPU
    return t.cuda() if torch.cuda.is_available() else t

class Tokenizer:
    "Byte-level stand-in for SEEM's CLIP tokenizer: start token 1, bytes + 2, end-of-text 259 (the largest id)."
    vocab_size = 260
    def __call__(self, txts, padding='max_length', truncation=True, max_length=77, return_tensors='pt'):
        txts = [txts] if isinstance(txts, str) else list(txts)
        ids = torch.zeros(len(txts), max_length, dtype=torch.long)
        for i, t in enumerate(txts):
            row = ([1] + [b + 2 for b in t.encode()])[:max_length - 1] + [259]
            ids[i, :len(row)] = torch.tensor(row)
        return {'input_ids': ids, 'attention_mask': (ids > 0).long()}

class _CausalMean(nn.Module):
    "Stand-in text transformer: the hidden state at token i is the mean of the embeddings of tokens 0..i."
    def __init__(self, vocab, width):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
    def forward(self, input_ids, attention_mask):
        x = self.embed(input_ids) * attention_mask[..., None]
        n = torch.arange(1, input_ids.shape[1] + 1, device=input_ids.device)[None, :, None]
        return {'last_hidden_state': x.cumsum(1) / n}

class LanguageEncoder(nn.Module):
    # SEEM v1.0 (7b2e76d) modeling/language/vlpencoder.py:20-69
    def __init__(self, max_token_num, width, dim_projection):
        super().__init__()
        self.tokenizer = Tokenizer()
        self.tokenizer_type = 'clip'
        self.lang_encoder = _CausalMean(Tokenizer.vocab_size, width)
        self.lang_proj = nn.Parameter(torch.randn(width, dim_projection) * 0.5)
        self.max_token_num = max_token_num
        self.logit_scale = nn.Parameter(torch.full([], 3.0))

    def get_text_embeddings(self, class_names, name='default', is_eval=False, add_bgd=False, prompt=True, norm=True,
                            store_buffer=None):
        # SEEM v1.0 (7b2e76d) modeling/language/vlpencoder.py:71-127, evaluation branch: each name is embedded in
        # every template and averaged (:103-117); the result is stored as `{name}_text_embeddings` (:127), which
        # compute_similarity reads for every image until the next call
        if not is_eval: raise NotImplementedError("stand-in: the training branch (:72-100) is not modelled")
        with torch.no_grad():
            def extract_mean_emb(txts):
                tokens = self.tokenizer(txts, padding='max_length', truncation=True, max_length=self.max_token_num,
                                        return_tensors='pt')
                clss_embedding = self.forward_language((_cuda(tokens['input_ids']), _cuda(tokens['attention_mask'])),
                                                       norm=norm)
                clss_embedding = clss_embedding.mean(dim=0)
                clss_embedding /= clss_embedding.norm()
                return clss_embedding
            templates = get_prompt_templates()
            if prompt:
                clss_embeddings = [extract_mean_emb([t.format(c.replace('-other', '').replace('-merged', '')
                                                              .replace('-stuff', '')) for t in templates])
                                   for c in class_names]
            else: clss_embeddings = [extract_mean_emb([c]) for c in class_names]
            if add_bgd: clss_embeddings.append(extract_mean_emb(["A background in coco."]))
            setattr(self, '{}_text_embeddings'.format(name), torch.stack(clss_embeddings, dim=0))

    def forward_language(self, texts, norm=True):
        # SEEM v1.0 (7b2e76d) modeling/language/vlpencoder.py:147-159: CLIP takes the end-of-text token's state
        x = self.lang_encoder(*texts)['last_hidden_state']
        x = x[torch.arange(x.size(0)), texts[0].argmax(dim=-1)]
        x = x @ self.lang_proj
        return x / (x.norm(dim=-1, keepdim=True) + 1e-7) if norm else x

    def compute_similarity(self, v_emb, name='default', fake=False):
        # SEEM v1.0 (7b2e76d) modeling/language/vlpencoder.py:179-185: one logit per stored text embedding
        v_emb = v_emb / (v_emb.norm(dim=-1, keepdim=True) + 1e-7)
        t_emb = getattr(self, '{}_text_embeddings'.format(name))
        return self.logit_scale.exp() * v_emb @ t_emb.unsqueeze(0).transpose(1, 2)

import torch
from torch import nn
from torch.nn import functional as F
from .build import register_model
from ..language import LanguageEncoder
from ..modules import sem_seg_postprocess

__all__ = ['GeneralizedSEEM', 'get_seem_model']

def _cuda_device():
    # shim: SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:229 builds a buffer on
    # torch.cuda.current_device(), so SEEM's model cannot even be built without a GPU; the stand-in uses the CPU then
    return torch.cuda.current_device() if torch.cuda.is_available() else 'cpu'

class _Predictor(nn.Module):
    "Stand-in for SEEM's decoder (modeling/interface/seem_v1.py): queries attend once to the mask features."
    def __init__(self, lang_encoder, hidden_dim, dim_proj, num_queries):
        super().__init__()
        self.lang_encoder = lang_encoder
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.class_embed = nn.Parameter(torch.randn(hidden_dim, dim_proj))
        self.mask_embed = nn.Linear(hidden_dim, hidden_dim)
        nn.init.normal_(self.mask_embed.weight, std=0.5)  # spatially varied masks

    def forward(self, mask_features):
        f = mask_features.flatten(2)  # [B, C, HW]
        q = self.query_feat.weight[None].expand(f.shape[0], -1, -1)  # [B, Q, C]
        decoder_output = q + torch.softmax(q @ f, -1) @ f.transpose(1, 2)
        # SEEM v1.0 (7b2e76d) modeling/interface/seem_v1.py:354-358: class logits = similarity to the stored text
        # embeddings (one column per text, no extra 'no object' column), masks = query . mask features
        outputs_class = self.lang_encoder.compute_similarity(decoder_output @ self.class_embed)
        outputs_mask = torch.einsum("bqc,bchw->bqhw", self.mask_embed(decoder_output), mask_features)
        return {'pred_logits': outputs_class, 'pred_masks': outputs_mask}

class _Head(nn.Module):
    # SEEM v1.0 (7b2e76d) modeling/body/xdecoder_head.py:98-105: pixel decoder, then the predictor
    def __init__(self, hidden_dim, predictor):
        super().__init__()
        self.pixel_decoder = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1)
        self.predictor = predictor
    def forward(self, features, target_queries=None): return self.predictor(self.pixel_decoder(features['res4']))

class _Backbone(nn.Module):
    def __init__(self, hidden_dim):
        super().__init__()
        self.conv = nn.Conv2d(3, hidden_dim, 4, stride=4)
    def forward(self, x): return {'res4': torch.tanh(self.conv(x))}

class GeneralizedSEEM(nn.Module):
    # SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:32-123 (the attributes evaluate uses)
    def __init__(self, *, backbone, sem_seg_head, size_divisibility, sem_seg_postprocess_before_inference,
                 pixel_mean, pixel_std, semantic_on, panoptic_on, instance_on, dilation_kernel):
        super().__init__()
        self.backbone, self.sem_seg_head, self.size_divisibility = backbone, sem_seg_head, size_divisibility
        self.sem_seg_postprocess_before_inference = sem_seg_postprocess_before_inference
        self.register_buffer("pixel_mean", torch.Tensor(pixel_mean).view(-1, 1, 1), False)  # :101
        self.register_buffer("pixel_std", torch.Tensor(pixel_std).view(-1, 1, 1), False)  # :102
        self.semantic_on, self.instance_on, self.panoptic_on = semantic_on, instance_on, panoptic_on
        self.task_switch = {'bbox': False}
        self.register_buffer("dilation_kernel", dilation_kernel)  # :121, in the checkpoint

    @classmethod
    def from_config(cls, cfg):
        # SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:125-260 (the keys the stand-in needs)
        dec_cfg, text = cfg['MODEL']['DECODER'], cfg['MODEL']['TEXT']
        lang = LanguageEncoder(text['CONTEXT_LENGTH'], text['WIDTH'], cfg['MODEL']['DIM_PROJ'])
        predictor = _Predictor(lang, dec_cfg['HIDDEN_DIM'], cfg['MODEL']['DIM_PROJ'], dec_cfg['NUM_OBJECT_QUERIES'])
        return {
            "backbone": _Backbone(dec_cfg['HIDDEN_DIM']),
            "sem_seg_head": _Head(dec_cfg['HIDDEN_DIM'], predictor),
            "size_divisibility": dec_cfg['SIZE_DIVISIBILITY'],
            "sem_seg_postprocess_before_inference": (  # :241-245
                dec_cfg['TEST']['SEM_SEG_POSTPROCESSING_BEFORE_INFERENCE']
                or dec_cfg['TEST']['PANOPTIC_ON'] or dec_cfg['TEST']['INSTANCE_ON']),
            "pixel_mean": cfg['INPUT']['PIXEL_MEAN'], "pixel_std": cfg['INPUT']['PIXEL_STD'],
            "semantic_on": dec_cfg['TEST']['SEMANTIC_ON'], "instance_on": dec_cfg['TEST']['INSTANCE_ON'],
            "panoptic_on": dec_cfg['TEST']['PANOPTIC_ON'],
            "dilation_kernel": torch.ones((1, 1, 3, 3), device=_cuda_device()),  # :228-229
        }

    @property
    def device(self): return self.pixel_mean.device  # :262-264

    def evaluate(self, batched_inputs):
        # SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:378-437
        images = [x["image"].to(self.device) for x in batched_inputs]
        images = [(x - self.pixel_mean) / self.pixel_std for x in images]
        tensor, image_sizes = _pad(images, self.size_divisibility)  # detectron2's ImageList.from_tensors (:382)
        outputs = self.sem_seg_head(self.backbone(tensor), target_queries=None)
        mask_cls_results, mask_pred_results = outputs["pred_logits"], outputs["pred_masks"]
        mask_pred_results = F.interpolate(mask_pred_results, size=tensor.shape[-2:], mode="bilinear",
                                          align_corners=False)  # :395-400
        processed_results = []
        for mask_cls_result, mask_pred_result, input_per_image, image_size in zip(
                mask_cls_results, mask_pred_results, batched_inputs, image_sizes):
            height = input_per_image.get("height", image_size[0])
            width = input_per_image.get("width", image_size[1])
            processed_results.append({})
            if self.sem_seg_postprocess_before_inference:  # :412-416: the mask logits at the output size
                mask_pred_result = sem_seg_postprocess(mask_pred_result, image_size, height, width)
                mask_cls_result = mask_cls_result.to(mask_pred_result)
            if self.semantic_on:  # :419-423
                r = self.semantic_inference(mask_cls_result, mask_pred_result)
                if not self.sem_seg_postprocess_before_inference:
                    r = sem_seg_postprocess(r, image_size, height, width)
                processed_results[-1]["sem_seg"] = r
            if self.panoptic_on or self.instance_on:  # :426-435
                raise NotImplementedError("stand-in: panoptic and instance inference are not modelled")
        return processed_results

    def semantic_inference(self, mask_cls, mask_pred):
        # SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:1014-1018: the LAST text column is dropped
        mask_cls = F.softmax(mask_cls, dim=-1)[..., :-1]
        mask_pred = mask_pred.sigmoid()
        return torch.einsum("qc,qhw->chw", mask_cls, mask_pred)

def _pad(images, size_divisibility):
    "detectron2's ImageList.from_tensors: pad bottom/right with zeros to a multiple of `size_divisibility`."
    sizes = [tuple(x.shape[-2:]) for x in images]
    H, W = (-(-max(s[i] for s in sizes) // size_divisibility) * size_divisibility for i in (0, 1))
    return torch.stack([F.pad(x, (0, W - x.shape[-1], 0, H - x.shape[-2])) for x in images]), sizes

@register_model
def get_seem_model(cfg, **kwargs):
    # SEEM v1.0 (7b2e76d) modeling/architectures/seem_model_v1.py:1160-1161
    return GeneralizedSEEM(**GeneralizedSEEM.from_config(cfg))

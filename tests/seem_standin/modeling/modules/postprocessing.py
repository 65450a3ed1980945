from torch.nn import functional as F

__all__ = ['sem_seg_postprocess']

def sem_seg_postprocess(result, img_size, output_height, output_width):
    # SEEM v1.0 (7b2e76d) modeling/modules/postprocessing.py:99-122: crop the padding, bicubic (antialiased) resize
    result = result[:, : img_size[0], : img_size[1]].expand(1, -1, -1, -1)
    return F.interpolate(result, size=(output_height, output_width), mode="bicubic", align_corners=False,
                         antialias=True)[0]

"""Benchmark `Sam3Labeler` (images/s for K classes) against a naive loop, and the parts of a pseudo-labeling pass.

Run on a GPU:

    python bench/labelers.py                     # full-size SAM 3 config, random weights, bf16, 21 classes
    python bench/labelers.py --tiny --device cpu # tiny config: checks that the script runs (numbers meaningless)

Random initialisation is fine for speed (`Sam3Model(Sam3Config())`: nothing is downloaded). Images are random
500x375 JPEGs written to a temporary folder, so decoding is real. Measured, in one run:

- naive: one full `Sam3Model` forward (vision + text + decoders) per image and class, as the model card shows;
- labeler: `Sam3Labeler.predict` with `--bs` images per call (vision once per image, the K prompts of all images of
  the batch in one decoder pass, text embeddings cached);
- the parts of the pseudo-label pass per image: JPEG decoding (`load_image`), the labeler, the sufficient statistics
  (`pseudo.sufficient_stats`, on the labeler's device) and the cache write (safetensors); their shares of the total,
  and the cache size per image.

The last line is `labelers naive_img_s=... labeler_img_s=... cache_kb=...`.
"""
import argparse, json, tempfile, time
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from fastprogress.fastprogress import progress_bar
from safetensors.torch import save_file
from conformalsam.core import VOC_CLASSES
from conformalsam.data import load_image
from conformalsam.labelers import Sam3Labeler
from conformalsam.testing import tiny_sam3, tiny_clip_tokenizer
from conformalsam.maps import sufficient_stats


def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def build(args, tmp):
    "A `Sam3Labeler` on the full-size random model (or the tiny one)."
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}[args.dtype]
    if args.tiny: return Sam3Labeler(tiny_sam3(tmp/'sam3'), device=args.device, dtype=dtype)
    from transformers import Sam3Config, Sam3Model, Sam3Processor, Sam3ImageProcessor
    tok = tiny_clip_tokenizer(tmp/'tok')  # ids < 519 fit the full vocabulary; prompt length is what matters
    torch.manual_seed(0)
    model = Sam3Model(Sam3Config())
    return Sam3Labeler(model, device=args.device, dtype=dtype, processor=Sam3Processor(Sam3ImageProcessor(), tok))


@torch.no_grad()
def naive(lab, images, prompts):
    "One full forward per image and class."
    for im in images:
        for p in prompts:
            x = lab.processor(images=[im], text=[p], return_tensors='pt').to(lab.device)
            x['pixel_values'] = x['pixel_values'].to(lab.dtype)
            o = lab.model(pixel_values=x.pixel_values, input_ids=x.input_ids, attention_mask=x.attention_mask)
            torch.nn.functional.interpolate(o.semantic_seg.float().sigmoid(), (im.height, im.width), mode='bilinear')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='tiny random config (CPU smoke test)')
    ap.add_argument('--device', default=None, help='torch device (default: cuda if available)')
    ap.add_argument('--dtype', default='bf16', choices=('bf16', 'fp16', 'fp32'))
    ap.add_argument('--classes', type=int, default=21, help='K (VOC names, cycled)')
    ap.add_argument('--images', type=int, default=32, help='images for the labeler timing')
    ap.add_argument('--naive-images', type=int, default=4, help='images for the naive timing')
    ap.add_argument('--bs', type=int, default=4, help='images per Sam3Labeler.predict call')
    ap.add_argument('--size', default='500x375', help='image WxH')
    ap.add_argument('--compile', action='store_true', help='torch.compile the model (mode=max-autotune-no-cudagraphs)')
    ap.add_argument('--json', default=None, help='also write the results here')
    args = ap.parse_args()
    if args.tiny and args.dtype == 'bf16' and (args.device or 'cpu') == 'cpu': args.dtype = 'fp32'
    classes = tuple((VOC_CLASSES * 10)[:args.classes]) if args.classes <= 21 else \
              tuple(f'{VOC_CLASSES[1 + i % 20]} {i}' for i in range(args.classes))
    w, h = map(int, args.size.split('x'))
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    paths = []
    for i in range(max(args.images, args.naive_images)):
        p = tmp/f'img{i:04d}.jpg'
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(p, quality=90); paths.append(p)
    lab = build(args, tmp)
    if args.compile: lab.model = torch.compile(lab.model, mode='max-autotune-no-cudagraphs')
    dev, prompts = lab.device, lab.prompts(classes)

    ims = [load_image(p) for p in paths]
    lab.predict(ims[:args.bs], classes); naive(lab, ims[:1], prompts[:1]); _sync(dev)  # warm-up (and compile)
    t0 = time.perf_counter(); naive(lab, ims[:args.naive_images], prompts); _sync(dev)
    naive_s = (time.perf_counter() - t0) / args.naive_images

    parts = dict(decode=0.0, labeler=0.0, stats=0.0, cache_write=0.0)
    cache_bytes = []
    for i in progress_bar(range(0, args.images, args.bs)):
        t = time.perf_counter(); batch = [load_image(p) for p in paths[i:i+args.bs]]; parts['decode'] += time.perf_counter() - t
        t = time.perf_counter(); probs = lab.predict(batch, classes); _sync(dev); parts['labeler'] += time.perf_counter() - t
        t = time.perf_counter(); st = [sufficient_stats(p) for p in probs]; _sync(dev); parts['stats'] += time.perf_counter() - t
        t = time.perf_counter()
        for j, s in enumerate(st):
            f = tmp/f'stats{i+j}.safetensors'
            save_file({k: v.cpu() for k, v in s.items()}, str(f)); cache_bytes.append(f.stat().st_size)
        parts['cache_write'] += time.perf_counter() - t
    total = sum(parts.values())
    res = dict(device=str(dev), gpu=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else None, tiny=args.tiny,
               dtype=args.dtype, classes=len(classes), image=f'{w}x{h}', bs=args.bs, compile=args.compile,
               naive_img_s=1 / naive_s, labeler_img_s=args.images / parts['labeler'], pipeline_img_s=args.images / total,
               shares={k: v / total for k, v in parts.items()}, cache_kb_per_image=float(np.mean(cache_bytes)) / 1024,
               peak_gpu_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == 'cuda' else None)
    print(json.dumps(res, indent=1))
    if args.json: Path(args.json).write_text(json.dumps(res, indent=1))
    print(f"labelers naive_img_s={res['naive_img_s']:.3g} labeler_img_s={res['labeler_img_s']:.3g} "
          f"pipeline_img_s={res['pipeline_img_s']:.3g} cache_kb={res['cache_kb_per_image']:.0f}")


if __name__ == '__main__': main()

#!/usr/bin/python3
"""Reference tensors for the shortest-edge resize and centre crop of Hugging Face image processors
(CLIP, DINOv2, BiT, ... : `size: {"shortest_edge": N}` with `crop_size`), computed with Pillow and
NumPy the way transformers computes them, for images whose leftover after the resize is odd in both
directions (where rounding the crop offset instead of flooring it shifts the picture by a pixel).

Run with Debian's Python (apt-get install python3-pil python3-numpy):

    /usr/bin/python3 training/make_crop_reference.py

transformers' steps, re-derived here (src/transformers/image_transforms.py and
image_processing_utils.py, transformers 4.x):
- get_resize_output_image_size(image, size=shortest_edge, default_to_square=False): the short side
  becomes `shortest_edge`, the long one int(shortest_edge * long / short) (truncated);
- resize(): PIL.Image.resize((width, height), resample) on the uint8 image (reducing_gap None);
- center_crop(): top = (orig_height - crop_height) // 2, left = (orig_width - crop_width) // 2;
- rescale (rescale_factor) and normalize ((x - mean) / std) in float32, channels first.

Writes to test/fixtures/images/: crop-noise.png (37x33 random pixels: the resize keeps its size,
so only the crop moves pixels, and a one-pixel shift changes nearly every value), crop-shapes.png
(153x100 shapes and gradients: a real resize to 114x75, where the long side is truncated from 114.75,
then an odd leftover of 43 and 3), their
reference-crop-*.f32 tensors, and crop-reference.json (the preprocessor_config.json used for each,
the tensor shapes and the tolerances).
"""
import json
import os

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "images")
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def processor(shortest_edge, crop_height, crop_width):
    return {
        "do_resize": True, "size": {"shortest_edge": shortest_edge}, "resample": 2,
        "do_center_crop": True, "crop_size": {"height": crop_height, "width": crop_width},
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": MEAN, "image_std": STD,
    }


def reference(image, config):
    width, height = image.size
    edge = config["size"]["shortest_edge"]
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = edge, int(edge * long / short)
    new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
    resized = np.asarray(image.convert("RGB").resize((new_width, new_height), resample=config["resample"], reducing_gap=None))
    crop_height, crop_width = config["crop_size"]["height"], config["crop_size"]["width"]
    top = (new_height - crop_height) // 2
    left = (new_width - crop_width) // 2
    cropped = resized[top:top + crop_height, left:left + crop_width].astype(np.float32)
    pixels = cropped * np.float32(config["rescale_factor"])
    pixels = (pixels - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return pixels.transpose(2, 0, 1).astype("<f4"), {"resized": [new_width, new_height], "top": top, "left": left}


def shapes():
    x = np.linspace(0, 255, 153, dtype=np.float32)
    y = np.linspace(0, 255, 100, dtype=np.float32)
    gradient = np.stack([np.tile(x, (100, 1)), np.tile(y[:, None], (1, 153)), np.full((100, 153), 128, np.float32)], axis=2)
    image = Image.fromarray(gradient.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 14, 60, 54), fill=(250, 20, 20))
    draw.ellipse((84, 30, 134, 88), fill=(20, 20, 220))
    draw.line((0, 99, 152, 0), fill=(255, 255, 255), width=3)
    return image


def main():
    rng = np.random.default_rng(29)
    images = {
        "crop-noise.png": (Image.fromarray(rng.integers(0, 256, size=(33, 37, 3), dtype=np.uint8)), processor(33, 30, 30), {"maxAbs": 1e-6, "meanAbs": 1e-7}),
        "crop-shapes.png": (shapes(), processor(75, 72, 71), {"maxAbs": 0.25, "meanAbs": 0.02}),
    }
    references = {}
    for name, (image, config, tolerance) in images.items():
        image.save(os.path.join(OUT, name))
        tensor, geometry = reference(Image.open(os.path.join(OUT, name)), config)
        stem = name.replace(".", "-")
        tensor.tofile(os.path.join(OUT, f"reference-{stem}.f32"))
        references[name] = {"file": f"reference-{stem}.f32", "shape": [1, *tensor.shape], "preprocessor": config, "geometry": geometry, "tolerance": tolerance}
    with open(os.path.join(OUT, "crop-reference.json"), "w") as f:
        json.dump({"images": references, "note": "crop-noise keeps its size through the resize (Pillow and libvips both copy), so it must match exactly; crop-shapes goes through a real bilinear resize, where the two resizers differ by a few grey levels at edges"}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

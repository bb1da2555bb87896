#!/usr/bin/python3
"""Test images for the image classifier sample (models/text_orientation), and the reference tensors
its preprocessing must reproduce, computed independently of the server with Pillow and NumPy.

Run with Debian's Python (apt-get install python3-pil python3-numpy fonts-dejavu-core):

    /usr/bin/python3 training/make_image_samples.py

The sample is PaddleOCR's text direction classifier (ch_ppocr_mobile_v2.0_cls: is a line of text
upright, 0, or upside down, 180). Writes to test/fixtures/images/:
- line-<n>.png / line-<n>-180.png: lines of real text rendered upright and turned over, and
  line-<n>.jpg (JPEG, quality 90) of the upright ones;
- exif-rotated.jpg: an upside-down line whose EXIF Orientation (3) says to turn it over: upright
  once the orientation is applied;
- reference.json: for some images, the model input Pillow computes from
  models/text_orientation/1/preprocessor_config.json (RGB, bilinear resize, rescale, normalize,
  channels first) as little-endian FP32 files reference-<name>.f32, and the tolerance.
"""
import base64
import json
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "images")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = [
    "The quick brown fox jumps over the lazy dog",
    "Serverless inference on AWS Lambda",
    "Invoice number 4711, due 30 November",
    "Kindly return the signed copy by Friday",
    "ModelShip serves ONNX models",
    "Open Inference Protocol, version 2",
]


def render(text):
    font = ImageFont.truetype(FONT, 40)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 40, bottom - top + 30), "white")
    ImageDraw.Draw(image).text((20 - left, 15 - top), text, fill=(20, 20, 30), font=font)
    return image


def reference(image, config):
    """The preprocessor_config.json steps, as Hugging Face's image processors apply them with Pillow."""
    size = config["size"]
    resized = ImageOps.exif_transpose(image).convert("RGB").resize((size["width"], size["height"]), Image.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) * np.float32(config["rescale_factor"])
    pixels = (pixels - np.array(config["image_mean"], dtype=np.float32)) / np.array(config["image_std"], dtype=np.float32)
    return pixels.transpose(2, 0, 1).astype("<f4")


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(ROOT, "models", "text_orientation", "1", "preprocessor_config.json")) as f:
        config = json.load(f)
    references = {}
    for n, text in enumerate(LINES):
        upright = render(text)
        upright.save(os.path.join(OUT, f"line-{n}.png"))
        upright.save(os.path.join(OUT, f"line-{n}.jpg"), quality=90)
        upright.rotate(180).save(os.path.join(OUT, f"line-{n}-180.png"))
    turned = render("Scanned upside down, EXIF says turn it").rotate(180)
    exif = Image.Exif()
    exif[0x0112] = 3
    turned.save(os.path.join(OUT, "exif-rotated.jpg"), quality=90, exif=exif)
    for name in ["line-0.png", "line-1-180.png", "line-2.jpg", "exif-rotated.jpg"]:
        tensor = reference(Image.open(os.path.join(OUT, name)), config)
        stem = name.replace(".", "-")
        tensor.tofile(os.path.join(OUT, f"reference-{stem}.f32"))
        references[name] = {"file": f"reference-{stem}.f32", "shape": [1, *tensor.shape]}
    # The golden gate's file for the sample: the upright and turned-over lines with their true orientation.
    names = [f"line-{n}.png" for n in range(len(LINES))] + [f"line-{n}-180.png" for n in range(len(LINES))]
    truth = ["0"] * len(LINES) + ["180"] * len(LINES)
    images = [base64.b64encode(open(os.path.join(OUT, name), "rb").read()).decode("ascii") for name in names]
    with open(os.path.join(ROOT, "models", "text_orientation", "1", "golden.json"), "w") as f:
        json.dump({"note": f"rendered lines of text ({', '.join(names)}) and their true orientation", "images": images, "labels": truth, "expectedLabels": truth, "tolerance": 0, "minAgreement": 1}, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"images": references, "tolerance": {"maxAbs": 0.25, "meanAbs": 0.02}, "note": "Pillow's bilinear resize and libvips' differ by a few grey levels at edges"}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

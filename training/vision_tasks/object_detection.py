"""Test models and images for the object-detection task (lambda/core/tasks/object-detection.ts).

Run with the fixture venv (torch, transformers, ultralytics, onnx; see training/requirements-fixtures.txt):

    YOLO_OFFLINE=1 /work/.venv-fx/bin/python training/vision_tasks/object_detection.py

Writes under test/fixtures/object-detection/:
- images/: drawings made here (shapes on a textured background): scene.jpg (640x480, the bench's
  image), tall.png (300x420: letterboxed left and right), wide.png (512x200), and exif.jpg, scene.jpg's
  pixels stored turned a quarter with EXIF Orientation 6 (the detector must see it upright);
- detr/: a small random-weight DetrForObjectDetection (ResNet backbone, 12 queries, 3 labels),
  exported with torch.onnx as Optimum lays it out (pixel_values, pixel_mask -> logits, pred_boxes);
- yolos/: a small random-weight YolosForObjectDetection (ViT, patch 16, 10 detection tokens), the
  same way (pixel_values only);
- yolov8/: a small random-weight YOLOv8 detect model built by Ultralytics from its own yolov8.yaml
  (width 1/16, reg_max 4, 3 classes) and exported by Ultralytics' exporter (`yolo export
  format=onnx imgsz=320`), so the file carries Ultralytics' own metadata_props;
- yolo26/: the same for YOLO26 exported end to end (`nms=False`): output [1, 300, 6];
- pinned-*/: ONNX graphs whose outputs are constants chosen here, which pin decoding and NMS to
  known boxes: pinned-yolo (Ultralytics layout [1, 4+classes, anchors]), pinned-yolo-e2e ([1, 300, 6]),
  pinned-detr (softmax with a no-object class) and pinned-rtdetr (sigmoid, RT-DETR's top-k).

The random weights of the real models are scaled so that a few boxes pass the default thresholds:
equality tests need detections to compare. object_detection_reference.py then runs Ultralytics'
and transformers' own post-processing on these models and images.
"""
import json
import os
import shutil
import tempfile

os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from PIL import Image, ImageDraw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "object-detection")
LABELS = ["circle", "square", "triangle"]


def scene(width, height, seed):
    """A drawing: a textured gradient background and a few filled shapes with outlines."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([80 + 100 * x / width, 120 + 60 * y / height, 160 - 80 * x / width], -1)
    base += (12 * np.sin(x / 7.0) * np.cos(y / 5.0))[..., None]
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        w, h = int(rng.integers(width // 8, width // 3)), int(rng.integers(height // 8, height // 3))
        x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour, outline=(0, 0, 0), width=3)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour, outline=(255, 255, 255), width=3)
        else:
            draw.polygon([(x0 + w // 2, y0), (x0, y0 + h), (x0 + w, y0 + h)], fill=colour, outline=(0, 0, 0))
    return image


def make_images():
    folder = os.path.join(OUT, "images")
    os.makedirs(folder, exist_ok=True)
    photo = scene(640, 480, 1)
    photo.save(os.path.join(folder, "scene.jpg"), quality=90)
    scene(300, 420, 2).save(os.path.join(folder, "tall.png"))
    scene(512, 200, 3).save(os.path.join(folder, "wide.png"))
    # Orientation 6 says "turn 90 degrees clockwise to display": the stored pixels are the upright
    # picture turned 90 degrees counter-clockwise (PIL's ROTATE_90).
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(os.path.join(folder, "scene.jpg")).transpose(Image.Transpose.ROTATE_90).save(os.path.join(folder, "exif.jpg"), quality=90, exif=exif)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def make_detr():
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1], layer_type="basic", out_features=["stage4"])
    config = DetrConfig(
        use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=12, init_std=0.5,
        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
    )
    model = DetrForObjectDetection(config).eval()
    with torch.no_grad():
        # Weights drawn wide (init_std 0.5, not 0.02) so the queries answer different boxes, and the
        # class head sharpened so some pass 0.5.
        model.class_labels_classifier.weight.mul_(0.6)
    folder = os.path.join(OUT, "detr")
    os.makedirs(folder, exist_ok=True)
    x = torch.rand(1, 3, 96, 128)
    mask = torch.ones(1, 96, 128, dtype=torch.long)
    torch.onnx.export(
        model, (x, mask), os.path.join(folder, "model.onnx"), input_names=["pixel_values", "pixel_mask"], output_names=["logits", "pred_boxes"],
        dynamic_axes={"pixel_values": {0: "batch", 2: "height", 3: "width"}, "pixel_mask": {0: "batch", 1: "height", 2: "width"}, "logits": {0: "batch"}, "pred_boxes": {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    config.architectures = ["DetrForObjectDetection"]  # what model.save_pretrained would record
    config.save_pretrained(folder)
    # DETR's processor with the sizes shrunk (800/1333 in the real one) so the tests stay fast.
    write_json(os.path.join(folder, "preprocessor_config.json"), {
        "image_processor_type": "DetrImageProcessor", "do_resize": True, "size": {"shortest_edge": 480, "longest_edge": 640}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "do_pad": True, "format": "coco_detection",
    })


def make_yolos():
    """A small random-weight YolosForObjectDetection (ViT, 10 detection tokens), no pixel_mask input."""
    from transformers import YolosConfig, YolosForObjectDetection

    torch.manual_seed(0)
    config = YolosConfig(
        use_mid_position_embeddings=False, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=[240, 320],
        patch_size=16, num_detection_tokens=10, initializer_range=0.5, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
    )
    model = YolosForObjectDetection(config).eval()
    with torch.no_grad():
        # YOLOS starts its detection tokens and position embeddings at zero: every token would answer
        # the same box. Draw them, and soften the class head so scores spread over (0.5, 1).
        model.vit.embeddings.detection_tokens.normal_(0, 1)
        model.vit.embeddings.position_embeddings.normal_(0, 0.5)
        model.class_labels_classifier.layers[-1].weight.mul_(0.3)
    folder = os.path.join(OUT, "yolos")
    os.makedirs(folder, exist_ok=True)
    torch.onnx.export(
        model, (torch.rand(1, 3, 480, 640),), os.path.join(folder, "model.onnx"), input_names=["pixel_values"], output_names=["logits", "pred_boxes"],
        dynamic_axes={"pixel_values": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}, "pred_boxes": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    config.architectures = ["YolosForObjectDetection"]
    config.save_pretrained(folder)
    write_json(os.path.join(folder, "preprocessor_config.json"), {
        "image_processor_type": "YolosImageProcessor", "do_resize": True, "size": {"shortest_edge": 480, "longest_edge": 640}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_pad": True,
    })


def yolo_yaml(source, extra, scale_line, tiny_line, path):
    text = open(source).read().replace("nc: 80", "nc: 3" + extra).replace(scale_line, tiny_line)
    with open(path, "w") as f:
        f.write(text)


def calibrate_classes(model, target_mean, target_std):
    """Rescale the head's final class convolutions so their logits on the test images have this mean and spread.

    Ultralytics initializes the class bias for ~0.01 objects per cell, and random features barely
    move the logits: no box would pass 0.25. A mean of -6 and a spread of 2 leave a few dozen cells
    over the threshold, enough for NMS to have work.
    """
    import cv2
    from ultralytics.data.augment import LetterBox

    images = [LetterBox(320, auto=False)(image=cv2.imread(os.path.join(OUT, "images", name))) for name in ("scene.jpg", "tall.png", "wide.png")]
    x = torch.from_numpy(np.stack([np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1)) for image in images]).astype(np.float32) / 255)
    # Random convolutions shrink activations layer by layer (1e-7 by the head); give every batch
    # norm the statistics of a real image, as training would, so the features carry the picture.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the passes below
    model.train()
    with torch.no_grad():
        model(x)
    head = model.model[-1]
    convs = [seq[-1] for branch in ("cv3", "one2one_cv3") for seq in (getattr(head, branch, None) or [])]
    captured = []  # each convolution's output less its bias: what the weights contribute
    hooks = [conv.register_forward_hook(lambda m, _i, out: captured.append((out - m.bias[None, :, None, None]).detach().flatten())) for conv in convs]
    model.eval()
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    spread = torch.cat(captured).std().item()
    with torch.no_grad():
        for conv in convs:
            conv.weight.mul_(target_std / spread)
            conv.bias.fill_(target_mean)


def make_yolo(name, source, scale_line, extra, end2end, mean):
    from ultralytics import YOLO

    torch.manual_seed(0)
    work = tempfile.mkdtemp()
    yaml = os.path.join(work, f"{name}n.yaml")
    yolo_yaml(source, extra, scale_line, scale_line.split(":")[0] + ": [0.33, 0.0625, 1024]", yaml)
    model = YOLO(yaml)
    model.model.names = dict(enumerate(LABELS))
    calibrate_classes(model.model, target_mean=mean, target_std=2.0)
    exported = model.export(format="onnx", imgsz=320, simplify=False, opset=17, dynamic=False, **({"nms": False} if end2end else {}))
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    shutil.move(exported, os.path.join(folder, "model.onnx"))
    shutil.rmtree(work)


def constant_graph(path, inputs, outputs, metadata=None):
    """A graph whose outputs are the given constants (plus 0 x the inputs' mean, so they stay inputs)."""
    nodes, graph_inputs, graph_outputs = [], [], []
    zero_terms = []
    for name, shape, dtype in inputs:
        graph_inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        source = name
        if dtype != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT))
            source = f"{name}_f"
        nodes.append(helper.make_node("ReduceMean", [source], [f"{name}_mean"], keepdims=0))
        zero_terms.append(f"{name}_mean")
    nodes.append(helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])))
    nodes.append(helper.make_node("Mul", [zero_terms[0], "zero"], ["nothing"]))
    for name, value in outputs:
        value = np.asarray(value, dtype=np.float32)
        nodes.append(helper.make_node("Constant", [], [f"{name}_c"], value=helper.make_tensor(f"{name}_c", TensorProto.FLOAT, value.shape, value.flatten().tolist())))
        nodes.append(helper.make_node("Add", [f"{name}_c", "nothing"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    model = helper.make_model(helper.make_graph(nodes, "pinned", graph_inputs, graph_outputs), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def xyxy_to_xywh(box):
    x0, y0, x1, y1 = box
    return [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]


# Boxes for the pinned YOLO graphs, in the 64x64 letterboxed input's pixels, with their class scores
# (circle, square). A 128x64 image letterboxes to 64x32 at gain 0.5, 16 px of grey above and below.
PINNED_YOLO = [
    ([10, 20, 30, 40], [0.90, 0.05]),  # kept
    ([11, 21, 31, 41], [0.80, 0.10]),  # IoU ~0.82 with the first, same class: suppressed
    ([10, 20, 30, 40], [0.02, 0.85]),  # the first's box, another class: kept (NMS is class-wise)
    ([20, 20, 40, 40], [0.60, 0.00]),  # IoU 1/3 with the first: kept at IoU 0.7, gone at 0.3
    ([40, 30, 60, 46], [0.00, 0.20]),  # under confidence 0.25
    ([-4, 10, 8, 30], [0.00, 0.50]),   # reaches into the padding and off the image: clipped
]


def make_pinned():
    names = "{0: 'circle', 1: 'square'}"
    meta = {"description": "pinned outputs", "author": "ModelShip tests", "stride": "32", "task": "detect", "batch": "1", "imgsz": "[64, 64]", "names": names, "end2end": "False"}
    anchors = 16
    raw = np.zeros((1, 6, anchors), dtype=np.float32)
    for i, (box, scores) in enumerate(PINNED_YOLO):
        raw[0, :4, i] = xyxy_to_xywh(box)
        raw[0, 4:, i] = scores
    constant_graph(os.path.join(OUT, "pinned-yolo", "model.onnx"), [("images", [1, 3, 64, 64], TensorProto.FLOAT)], [("output0", raw)], meta)
    e2e = np.zeros((1, 300, 6), dtype=np.float32)
    rows = [([10, 20, 30, 40], 0.9, 0), ([11, 21, 31, 41], 0.8, 0), ([-4, 10, 8, 30], 0.5, 1), ([40, 30, 60, 46], 0.2, 1)]
    for i, (box, score, cls) in enumerate(rows):
        e2e[0, i] = [*box, score, cls]
    constant_graph(os.path.join(OUT, "pinned-yolo-e2e", "model.onnx"), [("images", [1, 3, 64, 64], TensorProto.FLOAT)], [("output0", e2e)], {**meta, "end2end": "True"})
    # DETR-style: softmax over [circle, square, no-object]; boxes (cx, cy, w, h) relative to the image.
    logits = np.array([[[4.0, 0.0, 0.0], [0.0, 3.0, 0.5], [0.0, 0.0, 5.0], [1.0, 0.9, 0.0], [2.0, 0.0, 2.1]]], dtype=np.float32)
    boxes = np.array([[[0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.2, 0.3], [0.5, 0.5, 1.0, 1.0], [0.75, 0.6, 0.3, 0.2], [0.1, 0.1, 0.1, 0.1]]], dtype=np.float32)
    hf_inputs = [("pixel_values", ["batch", 3, "height", "width"], TensorProto.FLOAT)]
    folder = os.path.join(OUT, "pinned-detr")
    constant_graph(os.path.join(folder, "model.onnx"), hf_inputs, [("logits", logits), ("pred_boxes", boxes)])
    write_json(os.path.join(folder, "config.json"), {"architectures": ["DetrForObjectDetection"], "model_type": "detr", "id2label": {"0": "circle", "1": "square"}, "label2id": {"circle": 0, "square": 1}})
    write_json(os.path.join(folder, "preprocessor_config.json"), {"image_processor_type": "DetrImageProcessor", "size": {"shortest_edge": 64, "longest_edge": 128}, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_rescale": True, "rescale_factor": 1 / 255, "do_pad": True})
    # RT-DETR-style: sigmoid per class, top-k over queries x classes (a query may score two classes).
    logits = np.array([[[3.0, -2.0], [2.0, 1.0], [-3.0, -3.0], [0.1, -0.2]]], dtype=np.float32)
    boxes = np.array([[[0.5, 0.5, 0.4, 0.4], [0.2, 0.3, 0.2, 0.2], [0.9, 0.9, 0.1, 0.1], [0.6, 0.4, 0.5, 0.5]]], dtype=np.float32)
    folder = os.path.join(OUT, "pinned-rtdetr")
    constant_graph(os.path.join(folder, "model.onnx"), [("pixel_values", ["batch", 3, 64, 64], TensorProto.FLOAT)], [("logits", logits), ("pred_boxes", boxes)])
    write_json(os.path.join(folder, "config.json"), {"architectures": ["RTDetrForObjectDetection"], "model_type": "rt_detr", "num_queries": 4, "id2label": {"0": "circle", "1": "square"}, "label2id": {"circle": 0, "square": 1}})
    write_json(os.path.join(folder, "preprocessor_config.json"), {"image_processor_type": "RTDetrImageProcessor", "size": {"height": 64, "width": 64}, "do_normalize": False, "do_rescale": True, "rescale_factor": 1 / 255, "resample": 2})


def main():
    os.makedirs(OUT, exist_ok=True)
    make_images()
    make_pinned()
    make_detr()
    make_yolos()
    base = os.path.join(os.path.dirname(__import__("ultralytics").__file__), "cfg", "models")
    make_yolo("yolov8", os.path.join(base, "v8", "yolov8.yaml"), "n: [0.33, 0.25, 1024]", "\nreg_max: 4", False, -10.0)
    make_yolo("yolo26", os.path.join(base, "26", "yolo26.yaml"), "n: [0.50, 0.25, 1024]", "", True, -7.0)


if __name__ == "__main__":
    main()

"""Expected detections for the object-detection tests, computed by the reference implementations
themselves on the models and images object_detection.py made:

- Ultralytics 8.4.190: its own predictor steps for an ONNX export, as
  ultralytics/engine/predictor.py `BasePredictor.preprocess` and
  ultralytics/models/yolo/detect/predict.py `DetectionPredictor.postprocess` run them: cv2.imread
  (BGR), `LetterBox(imgsz, auto=False, stride)` (ultralytics/data/augment.py: grey 114, its rounding),
  BGR to RGB, /255, the ONNX session, `non_max_suppression(conf 0.25, iou 0.7, max_det 300, nc,
  end2end)` (ultralytics/utils/nms.py), `scale_boxes` (ultralytics/utils/ops.py). Recorded per image:
  the letterbox geometry, the detections, and the raw model output of one image (so the TypeScript
  post-processing is checked on exactly the outputs Ultralytics post-processed), plus the same steps
  with the request parameters the tests send (iou 0.3, a class filter, max_det 1).
- transformers 5.23.0: `RTDetrImageProcessor.post_process_object_detection` (sigmoid, top-k) and
  `DetrImageProcessor.post_process_object_detection` (softmax without the no-object class) on the
  pinned graphs' outputs.

EXIF: Ultralytics reads with cv2.imread, which applies the EXIF orientation (IMREAD_COLOR), as the
server does with sharp's rotate().

    YOLO_OFFLINE=1 /work/.venv-fx/bin/python training/vision_tasks/object_detection_reference.py
"""
import ast
import json
import os

os.environ.setdefault("YOLO_OFFLINE", "1")

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from ultralytics.data.augment import LetterBox
from ultralytics.utils import ops
from ultralytics.utils.nms import non_max_suppression

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "object-detection")
IMAGES = ["scene.jpg", "tall.png", "wide.png", "exif.jpg"]


def ultralytics_predict(session, meta, image_path, conf=0.25, iou=0.7, classes=None, max_det=300, keep_raw=False):
    imgsz = ast.literal_eval(meta["imgsz"])
    stride = int(meta["stride"])
    names = ast.literal_eval(meta["names"])
    end2end = meta.get("end2end") == "True"
    original = cv2.imread(image_path)  # BGR, EXIF orientation applied
    letterbox = LetterBox(imgsz, auto=False, stride=stride)
    params = letterbox.get_params({"img": original})
    boxed = letterbox(image=original)
    tensor = np.ascontiguousarray(boxed[..., ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
    raw = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    detections = non_max_suppression(torch.from_numpy(raw), conf, iou, classes=classes, max_det=max_det, nc=len(names), end2end=end2end)[0]
    detections[:, :4] = ops.scale_boxes(tensor.shape[2:], detections[:, :4], original.shape)
    result = {
        "size": [original.shape[1], original.shape[0]],
        "letterbox": {"width": params["new_unpad"][0], "height": params["new_unpad"][1], "top": params["top"], "left": params["left"]},
        "detections": [{"score": float(d[4]), "label": names[int(d[5])], "box": {"xmin": float(d[0]), "ymin": float(d[1]), "xmax": float(d[2]), "ymax": float(d[3])}} for d in detections.tolist()],
        # The letterboxed RGB image's sum per row: the server's letterbox must give the same pixels.
        "rowSums": boxed.astype(np.int64).sum(axis=(1, 2)).tolist(),
    }
    if keep_raw:
        result["raw"] = {"dims": list(raw.shape), "file": None}
        return result, raw
    return result


def yolo_references(name):
    folder = os.path.join(FIXTURES, name)
    path = os.path.join(folder, "model.onnx")
    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = {"metadata": meta, "images": {}}
    for image in IMAGES:
        image_path = os.path.join(FIXTURES, "images", image)
        if image == "scene.jpg":
            result, raw = ultralytics_predict(session, meta, image_path, keep_raw=True)
            raw_file = f"raw-{name}-scene.f32"
            raw.astype("<f4").tofile(os.path.join(FIXTURES, raw_file))
            result["raw"]["file"] = raw_file
        else:
            result = ultralytics_predict(session, meta, image_path)
        result["withParameters"] = {
            "iou_threshold=0.3": ultralytics_predict(session, meta, image_path, iou=0.3)["detections"],
            "threshold=0.5,classes=[square]": ultralytics_predict(session, meta, image_path, conf=0.5, classes=[1])["detections"],
            "max_detections=1": ultralytics_predict(session, meta, image_path, max_det=1)["detections"],
        }
        out["images"][image] = result
    return out


def pinned_yolo(name, width, height):
    """Ultralytics' NMS and scale_boxes on a pinned graph's constant output, for a width x height image."""
    folder = os.path.join(FIXTURES, name)
    model = onnx.load(os.path.join(folder, "model.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    session = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    names = ast.literal_eval(meta["names"])
    imgsz = ast.literal_eval(meta["imgsz"])
    raw = torch.from_numpy(session.run(None, {"images": np.zeros((1, 3, *imgsz), np.float32)})[0])
    out = {}
    for key, kwargs in {"defaults": {}, "iou_threshold=0.3": {"iou_thres": 0.3}, "threshold=0.7": {"conf_thres": 0.7}, "classes=[square]": {"classes": [1]}, "max_detections=2": {"max_det": 2}}.items():
        args = {"conf_thres": 0.25, "iou_thres": 0.7, "max_det": 300, **kwargs}
        d = non_max_suppression(raw.clone(), nc=len(names), end2end=meta.get("end2end") == "True", **args)[0]
        d[:, :4] = ops.scale_boxes(tuple(imgsz), d[:, :4], (height, width))
        out[key] = [{"score": float(r[4]), "label": names[int(r[5])], "box": {"xmin": r[0], "ymin": r[1], "xmax": r[2], "ymax": r[3]}} for r in d.tolist()]
    return out


def pinned_hf(name, processor_class, width, height, **kwargs):
    from transformers.modeling_outputs import ModelOutput

    folder = os.path.join(FIXTURES, name)
    config = json.load(open(os.path.join(folder, "config.json")))
    session = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    logits, boxes = session.run(["logits", "pred_boxes"], {"pixel_values": np.zeros((1, 3, 64, 64), np.float32)})
    outputs = ModelOutput(logits=torch.from_numpy(logits), pred_boxes=torch.from_numpy(boxes))
    processor = processor_class()
    out = {}
    for threshold in (0.5, 0.2):
        result = processor.post_process_object_detection(outputs, threshold=threshold, target_sizes=[(height, width)], **kwargs)[0]
        out[f"threshold={threshold}"] = [
            {"score": s, "label": config["id2label"][str(l)], "box": dict(zip(["xmin", "ymin", "xmax", "ymax"], b))}
            for s, l, b in zip(result["scores"].tolist(), result["labels"].tolist(), result["boxes"].tolist())
        ]
    return out


def resize_sizes():
    """transformers' get_size_with_aspect_ratio (image_transforms.py) for DETR-style shortest/longest edges."""
    from transformers.image_transforms import get_size_with_aspect_ratio

    shapes = [(640, 480), (480, 640), (300, 420), (512, 200), (1333, 800), (801, 1333), (4000, 3000), (97, 1001), (240, 240), (799, 533)]
    return [{"width": w, "height": h, "shortest": s, "longest": l, "to": list(get_size_with_aspect_ratio((h, w), s, l))[::-1]} for w, h in shapes for s, l in [(240, 400), (800, 1333)]]


def main():
    from transformers import DetrImageProcessor, RTDetrImageProcessor

    expected = {
        "note": "made by training/vision_tasks/object_detection_reference.py with ultralytics 8.4.190 and transformers 5.23.0; boxes in original-image pixels",
        "yolov8": yolo_references("yolov8"),
        "yolo26": yolo_references("yolo26"),
        "pinned-yolo": pinned_yolo("pinned-yolo", 128, 64),
        "pinned-yolo-e2e": pinned_yolo("pinned-yolo-e2e", 128, 64),
        "pinned-detr": pinned_hf("pinned-detr", DetrImageProcessor, 200, 100),
        "pinned-rtdetr": pinned_hf("pinned-rtdetr", RTDetrImageProcessor, 200, 100),
        "resize": resize_sizes(),
    }
    with open(os.path.join(FIXTURES, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in ("yolov8", "yolo26"):
        for image, result in expected[name]["images"].items():
            print(name, image, len(result["detections"]), {k: len(v) for k, v in result["withParameters"].items()})
    for name in ("pinned-yolo", "pinned-yolo-e2e", "pinned-detr", "pinned-rtdetr"):
        print(name, {k: len(v) for k, v in expected[name].items()})


if __name__ == "__main__":
    main()

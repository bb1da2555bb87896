"""v2 tensors in and out: JSON, or the binary tensor extension (Triton's: a JSON header of
Inference-Header-Content-Length bytes, then each tensor's raw little-endian bytes; BYTES elements as
a 4-byte length and the bytes). numpy is optional: without it, answers are flat lists with a shape.
"""
import json
import math
import struct

try:  # numpy is optional
    import numpy as np
except ImportError:  # pragma: no cover - exercised where numpy is absent
    np = None

# datatype -> (struct format, numpy dtype)
_FORMATS = {
    "BOOL": ("?", "bool"),
    "UINT8": ("B", "<u1"),
    "INT8": ("b", "<i1"),
    "UINT16": ("H", "<u2"),
    "INT16": ("h", "<i2"),
    "FP16": ("e", "<f2"),
    "UINT32": ("I", "<u4"),
    "INT32": ("i", "<i4"),
    "FP32": ("f", "<f4"),
    "UINT64": ("Q", "<u8"),
    "INT64": ("q", "<i8"),
    "FP64": ("d", "<f8"),
}

_NUMPY_KINDS = {
    "bool": "BOOL", "uint8": "UINT8", "int8": "INT8", "uint16": "UINT16", "int16": "INT16", "float16": "FP16",
    "uint32": "UINT32", "int32": "INT32", "float32": "FP32", "uint64": "UINT64", "int64": "INT64", "float64": "FP64",
}


class Tensor:
    """A named tensor: datatype, shape, and data (a numpy array, or a flat list without numpy)."""

    __slots__ = ("name", "datatype", "shape", "data", "parameters")

    def __init__(self, name, datatype, shape, data, parameters=None):
        self.name = name
        self.datatype = datatype
        self.shape = list(shape)
        self.data = data
        self.parameters = parameters or {}

    def __repr__(self):
        return "Tensor(name=%r, datatype=%r, shape=%r)" % (self.name, self.datatype, self.shape)


class InferResult:
    """A v2 answer: model name and version, the request id, and outputs by name (result["label"])."""

    def __init__(self, model_name, model_version, id, outputs, parameters=None):
        self.model_name = model_name
        self.model_version = model_version
        self.id = id
        self.outputs = outputs
        self.parameters = parameters or {}

    def __getitem__(self, name):
        for output in self.outputs:
            if output.name == name:
                return output.data
        raise KeyError("no output %r in the answer (outputs: %s)" % (name, ", ".join(o.name for o in self.outputs)))

    def tensor(self, name):
        return next(o for o in self.outputs if o.name == name)

    def __repr__(self):
        return "InferResult(model_name=%r, model_version=%r, outputs=%r)" % (self.model_name, self.model_version, self.outputs)


def _flatten(data):
    if isinstance(data, (list, tuple)):
        out = []
        for item in data:
            out.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
        return out
    return [data]


def _shape_of(data):
    shape = []
    while isinstance(data, (list, tuple)):
        shape.append(len(data))
        data = data[0] if data else None
    return shape


def _datatype_of(data):
    if np is not None and isinstance(data, np.ndarray):
        if data.dtype.kind in ("U", "S", "O"):
            return "BYTES"
        kind = _NUMPY_KINDS.get(data.dtype.name)
        if kind is None:
            raise TypeError("numpy dtype %s has no v2 datatype" % data.dtype)
        return kind
    first = (_flatten(data) or [None])[0]
    if isinstance(first, (str, bytes)):
        return "BYTES"
    if isinstance(first, bool):
        return "BOOL"
    raise TypeError("give the datatype of an input of plain numbers ({'name', 'datatype', 'shape', 'data'}), or a numpy array")


def to_input_list(inputs):
    """Inputs as Tensors: from a dict of name -> numpy array (or nested list), or the v2 list of dicts."""
    if isinstance(inputs, dict):
        tensors = []
        for name, data in inputs.items():
            shape = list(data.shape) if np is not None and isinstance(data, np.ndarray) else _shape_of(data)
            tensors.append(Tensor(name, _datatype_of(data), shape, data))
        return tensors
    tensors = []
    for item in inputs:
        data = item["data"]
        shape = item.get("shape")
        if shape is None:
            shape = list(data.shape) if np is not None and isinstance(data, np.ndarray) else _shape_of(data)
        tensors.append(Tensor(item["name"], item.get("datatype") or _datatype_of(data), shape, data, item.get("parameters")))
    return tensors


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _values(tensor):
    data = tensor.data
    if np is not None and isinstance(data, np.ndarray):
        return data.reshape(-1).tolist()
    return _flatten(data)


def _binary(tensor):
    if tensor.datatype == "BYTES":
        parts = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in _values(tensor)]
        return b"".join(struct.pack("<I", len(p)) + p for p in parts)
    fmt, dtype = _FORMATS[tensor.datatype]
    data = tensor.data
    if np is not None and isinstance(data, np.ndarray):
        return np.ascontiguousarray(data, dtype=dtype).tobytes()
    values = _flatten(data)
    return struct.pack("<%d%s" % (len(values), fmt), *values)


def _binary_size(tensor):
    if tensor.datatype == "BYTES":
        return sum(4 + len(v if isinstance(v, bytes) else str(v).encode("utf-8")) for v in _values(tensor))
    if np is not None and isinstance(tensor.data, np.ndarray):
        return tensor.data.size * struct.calcsize(_FORMATS[tensor.datatype][0])
    return len(_flatten(tensor.data)) * struct.calcsize(_FORMATS[tensor.datatype][0])


def encode_infer_request(tensors, outputs=None, id=None, parameters=None, binary_threshold=65536, binary_outputs=True):
    """(body bytes, headers): JSON, or binary when the inputs' values reach binary_threshold bytes."""
    head = {}
    if id is not None:
        head["id"] = id
    params = dict(parameters or {})
    if outputs is not None:
        wanted = [{"name": o} if isinstance(o, str) else dict(o) for o in outputs]
        if binary_outputs:
            for o in wanted:
                o["parameters"] = dict(o.get("parameters") or {}, binary_data=True)
        head["outputs"] = wanted
    elif binary_outputs:
        params["binary_data_output"] = True
    if params:
        head["parameters"] = params
    binary = sum(_binary_size(t) for t in tensors) >= binary_threshold
    if not binary:
        head["inputs"] = [
            dict({"name": t.name, "datatype": t.datatype, "shape": t.shape, "data": [_json_value(v) for v in _values(t)]}, **({"parameters": t.parameters} if t.parameters else {}))
            for t in tensors
        ]
        return json.dumps(head, separators=(",", ":")).encode("utf-8"), {"Content-Type": "application/json"}
    blobs = [_binary(t) for t in tensors]
    head["inputs"] = [
        {"name": t.name, "datatype": t.datatype, "shape": t.shape, "parameters": dict(t.parameters, binary_data_size=len(b))} for t, b in zip(tensors, blobs)
    ]
    header = json.dumps(head, separators=(",", ":")).encode("utf-8")
    return header + b"".join(blobs), {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}


def _from_binary(datatype, shape, raw):
    if datatype == "BYTES":
        out, offset = [], 0
        while offset < len(raw):
            (length,) = struct.unpack_from("<I", raw, offset)
            out.append(raw[offset + 4: offset + 4 + length].decode("utf-8"))
            offset += 4 + length
        return np.array(out, dtype=object).reshape(shape) if np is not None else out
    fmt, dtype = _FORMATS[datatype]
    if np is not None:
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    return list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw))


def _from_json(datatype, shape, values):
    values = _flatten(values) if values else []
    if datatype == "BYTES":
        return np.array(values, dtype=object).reshape(shape) if np is not None else values
    numbers = [float(v) if isinstance(v, str) and datatype.startswith("FP") else int(v) if isinstance(v, str) else v for v in values]
    if np is not None:
        return np.array(numbers, dtype=_FORMATS[datatype][1]).reshape(shape)
    return numbers


def decode_infer_response(body, header_length=None):
    header_bytes = body if header_length is None else body[:header_length]
    header = json.loads(header_bytes.decode("utf-8"))
    offset = len(body) if header_length is None else header_length
    outputs = []
    for o in header.get("outputs", []):
        parameters = dict(o.get("parameters") or {})
        size = parameters.pop("binary_data_size", None)
        if size is None:
            data = _from_json(o["datatype"], o["shape"], o.get("data"))
        else:
            if offset + size > len(body):
                raise ValueError("the answer declares %d bytes for output %r but only %d remain" % (size, o["name"], len(body) - offset))
            data = _from_binary(o["datatype"], o["shape"], body[offset: offset + size])
            offset += size
        outputs.append(Tensor(o["name"], o["datatype"], o["shape"], data, parameters))
    return InferResult(header.get("model_name"), header.get("model_version"), header.get("id"), outputs, header.get("parameters"))


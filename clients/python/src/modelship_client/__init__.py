"""Client for ModelShip's inference API (SigV4 with botocore, v2 tensors, numpy answers)."""
from .client import Client, Model, ModelShipError, region_of_url
from .tensors import InferResult, Tensor

__all__ = ["Client", "Model", "ModelShipError", "InferResult", "Tensor", "region_of_url"]
__version__ = "0.1.0"

"""The ModelShip client: health, and per model metadata, readiness, v2 inference with numpy arrays,
TF Serving rows, the image and text tasks, and feedback; SigV4 with botocore's signer and credential
chain, urllib3 for HTTP, retries with jittered exponential backoff for requests safe to repeat.
"""
import base64
import json
import random
import re
import time
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import get_session

from .tensors import decode_infer_response, encode_infer_request, to_input_list

_RETRIED = {429, 502, 503, 504}
_EXECUTE_API = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class ModelShipError(Exception):
    """A failed call: status (None for a timeout or network failure), the server's message, the request id."""

    def __init__(self, message, status=None, request_id=None, error_type=None, code="http", attempts=1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.error_type = error_type
        self.code = code
        self.attempts = attempts

    def __str__(self):
        extra = []
        if self.status is not None:
            extra.append("HTTP %d" % self.status)
        if self.request_id:
            extra.append("request id %s" % self.request_id)
        return self.message + (" (%s)" % ", ".join(extra) if extra else "")


def region_of_url(url):
    """The region of an execute-api URL (https://{id}.execute-api.{region}.amazonaws.com/...), or None."""
    host = urllib3.util.parse_url(url).host or ""
    match = _EXECUTE_API.search(host)
    return match.group(1) if match else None


def _message_of(status, body):
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            for key in ("error", "message"):
                if isinstance(parsed.get(key), str):
                    return parsed[key]
    except ValueError:
        pass
    return text.strip()[:2000] or "HTTP %d" % status


class Client:
    """A ModelShip API. Use as a context manager, or call close().

    url: the stack's ApiUrl output, or the local server's (http://127.0.0.1:8080).
    region: default the region in an execute-api URL, else botocore's configured region, else us-east-1.
    auth: "iam" (SigV4, the deployed default), "apiKey" (x-api-key) or "none".
    credentials: botocore Credentials; default botocore's chain (environment, profile, SSO, container, instance metadata).
    timeout: seconds each attempt may take. retries: attempts after the first, for requests safe to repeat.
    """

    def __init__(self, url, region=None, auth="iam", credentials=None, api_key=None, timeout=30.0, retries=3, backoff_base=0.1, max_backoff=20.0, binary_threshold=65536, binary_outputs=True):
        if auth not in ("iam", "apiKey", "none"):
            raise ValueError('auth must be "iam", "apiKey" or "none", got %r' % (auth,))
        if auth == "apiKey" and not api_key:
            raise ValueError('auth "apiKey" needs api_key')
        self.url = url if url.endswith("/") else url + "/"
        self.auth = auth
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.binary_threshold = binary_threshold
        self.binary_outputs = binary_outputs
        session = None
        if region is None:
            region = region_of_url(url)
        if auth == "iam":
            session = get_session()
            if region is None:
                region = session.get_config_variable("region")
            if credentials is None:
                credentials = session.get_credentials()
                if credentials is None:
                    raise ValueError("no AWS credentials found (botocore's chain: environment, profile, SSO, container, instance metadata); pass credentials=")
        self.region = region or "us-east-1"
        self._credentials = credentials
        self._http = urllib3.PoolManager(retries=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._http.clear()

    def live(self, timeout=None):
        return self._json("GET", "v2/health/live", idempotent=True, timeout=timeout).get("live") is True

    def ready(self, timeout=None):
        status, _, body = self._call("GET", "v2/health/ready", idempotent=True, accept=(503,), timeout=timeout)
        return status == 200 and json.loads(body).get("ready") is True

    def model(self, name, version=None):
        return Model(self, name, None if version is None else str(version))

    # -- transport

    def _sign(self, method, url, headers, body):
        headers = dict(headers)
        if self.auth == "apiKey":
            headers["x-api-key"] = self.api_key
        if self.auth != "iam":
            return headers
        credentials = self._credentials.get_frozen_credentials() if hasattr(self._credentials, "get_frozen_credentials") else self._credentials
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials, "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())

    def _call(self, method, path, body=b"", headers=None, idempotent=True, accept=(), timeout=None):
        url = self.url + path
        attempts = 1 + (self.retries if idempotent else 0)
        timeout = self.timeout if timeout is None else timeout
        for attempt in range(1, attempts + 1):
            # Signed per attempt: X-Amz-Date must be fresh after a wait.
            signed = self._sign(method, url, headers or {}, body)
            try:
                response = self._http.request(method, url, body=body or None, headers=signed, timeout=urllib3.Timeout(total=timeout), preload_content=True, redirect=False)
            except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ReadTimeoutError) as error:
                raise ModelShipError("no answer from %s within %s s (%s /%s)" % (self.url, timeout, method, path), code="timeout", attempts=attempt) from error
            except urllib3.exceptions.HTTPError as error:
                if attempt < attempts:
                    time.sleep(self._backoff(attempt))
                    continue
                raise ModelShipError("could not reach %s: %s" % (self.url, error), code="network", attempts=attempt) from error
            status, body_out = response.status, response.data
            if status < 400 or status in accept:
                return status, response.headers, body_out
            if status in _RETRIED and attempt < attempts:
                time.sleep(self._retry_after(response.headers) or self._backoff(attempt))
                continue
            request_id = response.headers.get("x-request-id") or response.headers.get("x-amzn-requestid")
            error_type = (response.headers.get("x-amzn-errortype") or "").split(":")[0] or None
            raise ModelShipError(_message_of(status, body_out), status=status, request_id=request_id, error_type=error_type, attempts=attempt)

    def _json(self, method, path, body=None, idempotent=True, timeout=None):
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {} if body is None else {"Content-Type": "application/json"}
        return json.loads(self._call(method, path, data, headers, idempotent=idempotent, timeout=timeout)[2])

    def _backoff(self, attempt):
        # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
        return random.uniform(0, min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1)))

    def _retry_after(self, headers):
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
        return min(max(0.0, seconds), self.max_backoff)


class Model:
    """One model (its live version, or the version given)."""

    def __init__(self, client, name, version):
        self.client = client
        self.name = name
        self.version = version

    @property
    def _path(self):
        return "v2/models/%s%s" % (quote(self.name, safe=""), "" if self.version is None else "/versions/%s" % quote(self.version, safe=""))

    def metadata(self, timeout=None):
        return self.client._json("GET", self._path, timeout=timeout)

    def ready(self, timeout=None):
        status, _, body = self.client._call("GET", self._path + "/ready", idempotent=True, accept=(503,), timeout=timeout)
        return status == 200 and json.loads(body).get("ready") is True

    def infer(self, inputs, outputs=None, id=None, parameters=None, timeout=None):
        """v2 inference. inputs: {name: numpy array} or the v2 list [{"name", "datatype", "shape", "data"}].
        Returns an InferResult: result["name"] is a numpy array (a flat list without numpy)."""
        body, headers = encode_infer_request(to_input_list(inputs), outputs=outputs, id=id, parameters=parameters, binary_threshold=self.client.binary_threshold, binary_outputs=self.client.binary_outputs)
        _, response_headers, answer = self.client._call("POST", self._path + "/infer", body, headers, idempotent=True, timeout=timeout)
        length = response_headers.get("inference-header-content-length")
        return decode_infer_response(answer, None if length is None else int(length))

    def predict(self, instances, timeout=None):
        path = "v1/models/%s%s:predict" % (quote(self.name, safe=""), "" if self.version is None else "/versions/%s" % quote(self.version, safe=""))
        return self.client._json("POST", path, {"instances": _plain(instances)}, timeout=timeout)["predictions"]

    def classify_image(self, image, top_k=None, timeout=None):
        """An image classifier's labels for one image (bytes, or a file path), best first."""
        if not isinstance(image, (bytes, bytearray)):
            with open(image, "rb") as f:
                image = f.read()
        return self._task(base64.b64encode(image).decode("ascii"), top_k, timeout)

    def classify_text(self, texts, top_k=None, timeout=None):
        """A text classifier's labels: for one text a list, for a list of texts a list per text."""
        return self._task(texts if isinstance(texts, str) else list(texts), top_k, timeout)

    def embed(self, texts, timeout=None):
        """An embedding model's vectors, one per text (a numpy array [texts, dims] with numpy)."""
        vectors = self._task([texts] if isinstance(texts, str) else list(texts), None, timeout)
        try:
            import numpy as np
        except ImportError:
            return vectors
        return np.asarray(vectors, dtype=np.float32)

    def feedback(self, outcome=None, model_version=None, id=None, label=None, predicted=None, timeout=None):
        """Records a prediction's outcome (0/1) or its true label. Never retried: a repeat would count twice."""
        body = {k: v for k, v in {"id": id, "model_version": model_version or self.version, "outcome": outcome, "label": label, "predicted": predicted}.items() if v is not None}
        return self.client._json("POST", "v2/models/%s/feedback" % quote(self.name, safe=""), body, idempotent=False, timeout=timeout)

    def _task(self, inputs, top_k, timeout):
        body = {"inputs": inputs}
        if top_k is not None:
            body["parameters"] = {"top_k": top_k}
        return self.client._json("POST", self._path + "/infer", body, timeout=timeout)


def _plain(value):
    """numpy arrays and scalars as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

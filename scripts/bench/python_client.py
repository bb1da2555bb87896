"""Bench part (l), Python: modelship_client's time per call against urllib3 posting the same body
with the same signed headers (signed once), for a small row and a 1 MB tensor; prints JSON medians.
Usage: python python_client.py URL ACCESS_KEY SECRET_KEY N"""
import json
import statistics
import sys
import time

import numpy as np
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from modelship_client import Client
from modelship_client.tensors import encode_infer_request, to_input_list

url, key, secret, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
credentials = Credentials(key, secret)
cases = [
    ("small row (JSON)", "iris_forest", {"features": np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)}),
    ("1 MB tensor (binary)", "identity_fp32", {"x": (np.arange(1 << 18, dtype=np.float32) / 7).reshape(1 << 17, 2)}),
]
out = []
with Client(url, region="us-east-1", credentials=credentials) as client:
    http = urllib3.PoolManager(retries=False)
    for name, model, inputs in cases:
        body, headers = encode_infer_request(to_input_list(inputs), binary_threshold=client.binary_threshold, binary_outputs=client.binary_outputs)
        target = "%s/v2/models/%s/infer" % (url, model)
        request = AWSRequest(method="POST", url=target, data=body, headers=headers)
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
        signed = dict(request.headers.items())

        def raw():
            response = http.request("POST", target, body=body, headers=signed)
            assert response.status == 200, response.data[:200]
            return response.data

        def via_client():
            return client.model(model).infer(inputs)

        for _ in range(20):
            raw()
            via_client()
        raw_times, client_times = [], []
        for _ in range(n):
            started = time.perf_counter()
            raw()
            raw_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            via_client()
            client_times.append(time.perf_counter() - started)
        out.append({"case": name, "rawMs": statistics.median(raw_times) * 1000, "clientMs": statistics.median(client_times) * 1000, "bytes": len(body)})
print(json.dumps(out))

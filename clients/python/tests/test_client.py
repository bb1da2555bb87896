"""modelship_client against the local server with AUTH=iam, and against real HTTP stand-ins."""
import json
import os

import numpy as np
import pytest
from botocore.credentials import Credentials

from modelship_client import Client, ModelShipError, region_of_url

ROW = [5.1, 3.5, 1.4, 0.2]


def test_health_metadata_and_readiness(client):
    assert client.live() is True
    assert client.ready() is True
    iris = client.model("iris_forest")
    assert iris.metadata()["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    assert client.model("iris_forest", version=1).metadata()["versions"] == ["1", "2"]
    assert iris.ready() is True
    assert client.model("iris_forest", version=2).ready() is False


def test_infer_from_numpy_and_from_the_v2_list(client, server):
    golden = json.load(open(os.path.join(server["root"], "models", "iris_forest", "1", "golden.json")))
    result = client.model("iris_forest").infer({"features": np.array([ROW], dtype=np.float32)}, id="p-1")
    assert (result.model_name, result.model_version, result.id) == ("iris_forest", "1", "p-1")
    assert result["label"].dtype == np.int64 and result["label"].tolist() == [0]
    assert result["probabilities"].dtype == np.float32 and result["probabilities"].shape == (1, 3)
    rows = len(golden["inputs"][0]["data"]) // 4
    nested = np.array(golden["inputs"][0]["data"], dtype=np.float32).reshape(rows, 4).tolist()
    listed = client.model("iris_forest").infer([{"name": "features", "datatype": "FP32", "shape": [rows, 4], "data": nested}], outputs=["probabilities"])
    assert [o.name for o in listed.outputs] == ["probabilities"]
    np.testing.assert_allclose(listed["probabilities"].reshape(-1), golden["outputs"][1]["data"], atol=golden["tolerance"]["absolute"], rtol=golden["tolerance"]["relative"])


def test_a_4mb_fp32_tensor_goes_binary_and_comes_back_bit_identical(client):
    values = np.random.default_rng(7).standard_normal((1 << 19, 2)).astype(np.float32)
    sent = []
    request = client._http.request

    def recording(method, url, body=None, headers=None, **kw):
        sent.append((headers.get("Content-Type"), len(body or b"")))
        return request(method, url, body=body, headers=headers, **kw)

    client._http.request = recording
    answer = client.model("identity_fp32").infer({"x": values})
    assert sent[0][0] == "application/octet-stream" and 4 << 20 < sent[0][1] < (4 << 20) + 1024
    assert tuple(answer.outputs[0].shape) == (1 << 19, 2)
    out = answer.outputs[0].data
    assert out.dtype == np.float32 and out.tobytes() == values.tobytes()


@pytest.mark.parametrize("threshold", [float("inf"), 0], ids=["json", "binary"])
def test_int64_past_2_53_and_bytes_stay_exact(server, threshold):
    with Client(server["url"], region="us-east-1", credentials=server["credentials"], binary_threshold=threshold) as c:
        big = np.array([[9007199254740993, -9223372036854775808], [9223372036854775807, -9007199254740993]], dtype=np.int64)
        assert c.model("identity_int64").infer({"x": big}).outputs[0].data.tolist() == big.tolist()
        texts = [["héllo wörld", ""], ['a,b "quoted"', "日本語"]]
        answer = c.model("identity_bytes").infer([{"name": "x", "datatype": "BYTES", "shape": [2, 2], "data": texts}])
        assert answer.outputs[0].data.tolist() == texts


def test_predict_tasks_and_feedback(client, server):
    assert client.model("iris_forest").predict(np.array([ROW])) == [{"label": "setosa", "probabilities": [1.0000001192092896, 0, 0]}]
    image = os.path.join(server["root"], "test", "fixtures", "images", "line-1-180.png")
    assert client.model("text_orientation").classify_image(image)[0]["label"] == "180"
    with open(image, "rb") as f:
        top1 = client.model("text_orientation").classify_image(f.read(), top_k=1)
    assert [t["label"] for t in top1] == ["180"]
    sections = client.model("debian_sections")
    assert sections.classify_text("multiplayer puzzle game with cute monsters")[0]["label"] == "games"
    assert [[l["label"] for l in labels] for labels in sections.classify_text(["TrueType font family", "network packet analyzer"], top_k=1)] == [["fonts"], ["net"]]
    vectors = client.model("debian_embeddings").embed(["a network packet analyzer", "fonts"])
    assert vectors.shape == (2, 128) and abs(np.linalg.norm(vectors[0]) - 1) < 1e-3
    assert client.model("iris_forest").feedback(outcome=1, model_version="1", id="p-1") == {"recorded": True, "model_name": "iris_forest", "model_version": "1", "outcome": 1}


def test_errors_carry_status_message_and_request_id(server):
    with Client(server["url"], region="us-east-1", credentials=server["credentials"], retries=0) as c:
        with pytest.raises(ModelShipError) as unknown:
            c.model("nope").metadata()
        assert unknown.value.status == 404 and unknown.value.message.startswith('model "nope"')
        with pytest.raises(ModelShipError) as broken:
            c.model("iris_forest", version=2).infer({"features": np.array([ROW], dtype=np.float32)})
        assert broken.value.status == 503 and len(broken.value.request_id) == 36
        assert "(request id %s)" % broken.value.request_id in broken.value.message
    with Client(server["url"], region="us-east-1", credentials=Credentials(server["credentials"].access_key, "wrong")) as wrong:
        with pytest.raises(ModelShipError) as refused:
            wrong.live()
        assert (refused.value.status, refused.value.error_type, refused.value.attempts) == (403, "InvalidSignatureException", 1)
        assert refused.value.message.startswith("The request signature we calculated does not match")
        assert len(refused.value.request_id) == 36
    with Client(server["url"], auth="none") as unsigned:
        with pytest.raises(ModelShipError, match="^Missing Authentication Token"):
            unsigned.live()


def test_region_from_an_execute_api_url():
    assert region_of_url("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/") == "eu-west-1"
    assert region_of_url("http://127.0.0.1:8080") is None


def fast(url, **kw):
    return Client(url, auth="none", backoff_base=0.02, **kw)


def test_503_twice_then_200_gives_one_answer(stand_in):
    s = stand_in([(503, {}), (503, {}), (200, {})])
    assert fast(s.url).live() is True
    assert len(s.arrivals) == 3


def test_429_with_retry_after_waits(stand_in):
    s = stand_in([(429, {"Retry-After": "1"}), (200, {})])
    assert fast(s.url).live() is True
    assert len(s.arrivals) == 2 and s.arrivals[1] - s.arrivals[0] >= 0.99


def test_a_dropped_connection_is_retried_when_safe(stand_in):
    s = stand_in(["drop", (200, {})])
    assert fast(s.url).live() is True
    assert len(s.arrivals) == 2


def test_feedback_is_never_repeated(stand_in):
    s = stand_in([(503, {})])
    with pytest.raises(ModelShipError) as failed:
        fast(s.url).model("iris").feedback(outcome=1, model_version="1")
    assert (failed.value.status, failed.value.attempts, len(s.arrivals)) == (503, 1, 1)
    exhausted = stand_in([(502, {})])
    with pytest.raises(ModelShipError) as last:
        fast(exhausted.url).live()
    assert (last.value.status, last.value.attempts, len(exhausted.arrivals)) == (502, 4, 4)


def test_a_slow_answer_times_out(stand_in):
    s = stand_in([("sleep", 2)])
    with pytest.raises(ModelShipError) as slow:
        fast(s.url, timeout=0.2).live()
    assert (slow.value.code, slow.value.status) == ("timeout", None)
    assert str(slow.value).startswith("no answer from %s/ within 0.2 s" % s.url)


def test_context_manager_closes_the_pool(server):
    with Client(server["url"], region="us-east-1", credentials=server["credentials"]) as c:
        assert c.live()
        assert len(c._http.pools) == 1
    assert len(c._http.pools) == 0


def test_works_without_numpy(server):
    """numpy is optional: without it, answers are flat lists (INT64 exact, BYTES as str)."""
    import subprocess
    import sys

    code = """
import sys, json
sys.modules["numpy"] = None  # import numpy now fails, as where it is not installed
from botocore.credentials import Credentials
from modelship_client import Client
url, key, secret = sys.argv[1:4]
with Client(url, region="us-east-1", credentials=Credentials(key, secret)) as c:
    small = c.model("iris_forest").infer([{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}])
    big = c.model("identity_int64").infer([{"name": "x", "datatype": "INT64", "shape": [1, 2], "data": [9007199254740993, -9223372036854775808]}])
with Client(url, region="us-east-1", credentials=Credentials(key, secret), binary_threshold=0) as c:
    floats = c.model("identity_fp32").infer([{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[0.5, -1.25], [3.0, 1e-3]]}])
print(json.dumps({"label": small["label"], "big": big.outputs[0].data, "floats": floats.outputs[0].data}))
"""
    out = subprocess.run([sys.executable, "-c", code, server["url"], server["credentials"].access_key, server["credentials"].secret_key], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["label"] == [0]
    assert answer["big"] == [9007199254740993, -9223372036854775808]
    assert answer["floats"] == [0.5, -1.25, 3.0, 0.0010000000474974513]

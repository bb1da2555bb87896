"""The official openai Python client (3.51.0) against the local server, run by openai-python.test.ts.

embeddings.create answers the vectors /v2/models/{name}/infer answers (float; base64, the client's
default, decoded by the client; "dimensions"), errors raise the client's own exception classes with
the server's message, and an API-key server takes the client with x-api-key as a default header.
"""
import json
import math
import os
import urllib.request

import openai
import pytest

URL = os.environ["COMPAT_TEST_URL"]
KEYED_URL = os.environ["COMPAT_TEST_KEYED_URL"]
API_KEY = os.environ["COMPAT_TEST_API_KEY"]
MODEL = os.environ["COMPAT_TEST_MODEL"]
TEXTS = json.loads(os.environ["COMPAT_TEST_TEXTS"])


def infer(texts):
    request = urllib.request.Request(f"{URL}/v2/models/{MODEL}/infer", data=json.dumps({"inputs": texts}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def expected():
    return infer(TEXTS)


def test_float_embeddings_equal_infer(client, expected):
    answer = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
    assert answer.object == "list" and answer.model == MODEL
    assert [d.index for d in answer.data] == list(range(len(TEXTS)))
    assert [d.embedding for d in answer.data] == expected
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0


def test_default_encoding_is_base64_decoded_by_the_client(client, expected):
    raw = client.embeddings.with_raw_response.create(model=MODEL, input=TEXTS)
    assert isinstance(json.loads(raw.text)["data"][0]["embedding"], str)
    answer = raw.parse()
    assert [list(d.embedding) for d in answer.data] == expected


def test_dimensions_cut_and_renormalize(client, expected):
    answer = client.embeddings.create(model=MODEL, input=TEXTS, dimensions=32)
    for vector, full in zip((d.embedding for d in answer.data), expected):
        cut = full[:32]
        norm = math.sqrt(sum(v * v for v in cut))
        assert len(vector) == 32
        assert all(abs(a - b / norm) < 1e-6 for a, b in zip(vector, cut))


def test_errors_raise_the_clients_exceptions(client):
    with pytest.raises(openai.NotFoundError) as missing:
        client.embeddings.create(model="nope", input="x")
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    assert 'model "nope" not found' in str(missing.value)
    with pytest.raises(openai.BadRequestError) as dims:
        client.embeddings.create(model=MODEL, input="x", dimensions=100)
    assert dims.value.param == "dimensions"
    assert '"dimensions" is 100' in dims.value.message


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    assert client.models.retrieve(MODEL).owned_by == "modelship"


def test_api_key_as_a_default_header(expected):
    keyed = openai.OpenAI(base_url=f"{KEYED_URL}/v1", api_key="unused", default_headers={"x-api-key": API_KEY}, max_retries=0)
    assert [list(d.embedding) for d in keyed.embeddings.create(model=MODEL, input=TEXTS).data] == expected
    without = openai.OpenAI(base_url=f"{KEYED_URL}/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        without.embeddings.create(model=MODEL, input="x")
    assert "missing or wrong x-api-key header" in str(refused.value)

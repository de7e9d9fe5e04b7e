"""``rnnkit serve``: each task's endpoint answers as the run computes, and every malformed request
gets a 4xx that names the field; batching, bounds and a graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_digits

import rnnkit
from rnnkit.serve import Limits, create_app
from rnnkit.serve.batching import BusyError, MicroBatcher


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    digits = load_digits()
    clf = rnnkit.Classifier(model__hidden_size=16, epochs=2)
    clf.fit(list(digits.images[:600]), digits.target[:600])
    path = clf.save(tmp_path_factory.mktemp("serve") / "digits")
    return clf, path


def post(client, body) -> tuple[int, dict]:
    answer = client.post("/predict", json=body)
    return answer.status_code, answer.json()


def test_classify_answers_as_the_run_predicts(classifier):
    clf, path = classifier
    images = load_digits().images[600:606]
    with TestClient(create_app(path)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        meta = client.get("/metadata").json()
        assert meta["task"] == "classify" and meta["version"] == rnnkit.__version__
        status, body = post(client, {"sequences": images.tolist()})
    assert status == 200
    probs = clf.predict_proba(list(images))
    got = [p["probabilities"] for p in body["predictions"]]
    np.testing.assert_allclose([[g[str(c)] for c in range(10)] for g in got], probs, atol=1e-6)
    assert [p["label"] for p in body["predictions"]] == clf.predict(list(images)).tolist()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sequences": [[[1.0, 2.0]]]}, 422, ["body", "sequences", "0", "0"]),  # wrong width
        ({"sequences": [[["a"] * 8]]}, 422, ["body", "sequences", 0, 0, "list[float]", 0]),
        ({"sequence": [[[0.0] * 8]]}, 422, ["body", "sequences"]),  # misspelt field
        ({"sequences": []}, 422, ["body", "sequences"]),  # nothing to classify
        ({"sequences": [[[0.0] * 8] * 30]}, 422, ["body", "sequences", "0"]),  # too long
    ],
    ids=["width", "type", "field", "empty", "too-long"],
)
def test_malformed_requests_get_a_4xx_naming_the_field(classifier, body, status, field):
    with TestClient(create_app(classifier[1], Limits(max_length=20))) as client:
        got, answer = post(client, body)
    assert got == status
    assert answer["detail"][0]["loc"][: len(field)] == field


def test_nan_oversized_and_unparsable_bodies(classifier):
    with TestClient(create_app(classifier[1], Limits(max_request_bytes=2000))) as client:
        nan = b'{"sequences": [[[NaN, 1, 2, 3, 4, 5, 6, 7]]]}'
        answer = client.post("/predict", content=nan, headers={"content-type": "application/json"})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["msg"] == "not a finite number (NaN or infinity)"
        big = client.post("/predict", json={"sequences": [[[0.0] * 8] * 60]})
        assert big.status_code == 413 and "limit is 2000" in big.json()["detail"][0]["msg"]
        broken = client.post(
            "/predict", content=b"{no", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422


def test_forecast_anomaly_and_lm_endpoints(tmp_path, shared_datasets):
    air = pd.read_csv(shared_datasets / "airline-passengers" / "airline-passengers.csv")
    model = rnnkit.Forecaster(lookback=24, horizon=12, epochs=2, data__val=24, data__test=24,
                              model__hidden_size=8, eval__baselines=["naive"])  # fmt: skip
    path = model.fit(air, time_column="Month", target="Passengers").save(tmp_path / "air")
    with TestClient(create_app(path)) as client:
        status, body = post(client, {"past": air.Passengers.tolist()[-24:]})
        assert status == 200
        want = model.predict()["Passengers"].to_numpy()
        np.testing.assert_allclose(body["forecast"]["Passengers"], want, rtol=1e-5)
        assert post(client, {"past": [1.0] * 23})[0] == 422

    nyc = pd.read_csv(shared_datasets / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv")
    detector = rnnkit.Detector(method="autoencoder", epochs=1).fit(nyc)
    path = detector.save(tmp_path / "taxi")
    values = nyc.value.to_numpy()
    with TestClient(create_app(path)) as client:
        status, body = post(client, {"window": values[900:940].tolist()})
        assert status == 200
        assert body["score"] == pytest.approx(detector.score(values[900:940]), rel=1e-5)
        assert post(client, {"window": values[:5].tolist()})[0] == 422  # shorter than a window

    lm = rnnkit.LanguageModel(model__hidden_size=16, model__num_layers=1, epochs=1,
                              data__seq_len=8, train__batch_size=4)  # fmt: skip
    path = lm.fit("abc abd abe\n" * 100).save(tmp_path / "lm")
    with TestClient(create_app(path, Limits(max_length=50))) as client:
        status, body = post(client, {"prompt": "ab", "length": 20, "seed": 3})
        assert status == 200 and body["text"] == lm.generate("ab", 20, seed=3)
        status, body = post(client, {"prompt": "xyz", "length": 10})  # characters never seen
        assert status == 422 and body["detail"][0]["loc"] == ["body", "prompt"]
        assert post(client, {"prompt": "ab", "length": 51})[0] == 422  # over the length cap
        assert post(client, {"prompt": "ab", "temperature": -1})[0] == 422


def test_concurrent_requests_share_model_calls_and_a_full_queue_is_refused():
    calls = []

    def handler(items):
        calls.append(len(items))
        time.sleep(0.05)
        return [item * 2 for item in items]

    async def scenario():
        batcher = MicroBatcher(handler, max_batch=8, max_wait=0.02, max_queue=20)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(16)))
        assert results == [2 * i for i in range(16)]
        assert sum(calls) == 16 and len(calls) <= 3  # batched, not one call each
        flood = [asyncio.ensure_future(batcher.submit(i)) for i in range(30)]
        outcome = await asyncio.gather(*flood, return_exceptions=True)
        assert sum(isinstance(o, BusyError) for o in outcome) >= 1  # bounded
        await batcher.stop()

    asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_finishes_the_requests_in_flight_when_stopped(tmp_path):
    lm = rnnkit.LanguageModel(model__hidden_size=16, model__num_layers=1, epochs=1,
                              data__seq_len=8, train__batch_size=4)  # fmt: skip
    path = lm.fit("abc abd abe\n" * 100).save(tmp_path / "lm")
    port = _free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    server = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", "--run", str(path), "--port", str(port),
         "--max-length", "20000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)

        async def in_flight():
            async with httpx.AsyncClient(timeout=120) as client:
                request = client.post(f"{url}/predict",
                                      json={"prompt": "ab", "length": 8000, "seed": 0})  # fmt: skip
                task = asyncio.ensure_future(request)
                await asyncio.sleep(0.5)  # the generation is running when the stop comes
                server.send_signal(signal.SIGTERM)
                return await task

        answer = asyncio.run(in_flight())
        assert answer.status_code == 200 and len(answer.json()["text"]) == 8002
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    # uvicorn stops gracefully, then ends with the signal it was sent (as its parent expects)
    assert server.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert "Traceback" not in err

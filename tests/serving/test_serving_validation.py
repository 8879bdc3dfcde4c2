"""The predict endpoint against a real server on loopback: answers, validation errors,
body limits, malformed JSON, and a server that stays up whatever it is sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from serving_helpers import FEATURES, LiveServer, StoreCopy, records

import mlsteward as ms


@pytest.fixture
def server(acs_store: StoreCopy, live_server: Callable[..., LiveServer]) -> LiveServer:
    acs_store.client.deploy("acs@1", "acs", project="acs", strategy="direct")
    return live_server(acs_store, max_body_bytes=64 * 1024)


def test_one_row_and_many_rows_are_answered(server: LiveServer, acs_rows) -> None:
    rows = records(acs_rows.head(5))
    one = server.predict("acs", {"records": rows[:1]})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["model"] == "acs" and body["model_version"] == 1
    assert body["ids"] == [body["request_id"]] == [one.headers["x-request-id"]]
    assert body["classes"] == [0, 1]
    assert len(body["probabilities"][0]) == 2
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-9
    assert (
        body["predictions"][0]
        == [0, 1][body["probabilities"][0].index(max(body["probabilities"][0]))]
    )

    many = server.predict("acs", {"records": rows})
    assert many.status_code == 200
    assert len(many.json()["predictions"]) == 5
    assert many.json()["ids"] == [f"{many.json()['request_id']}.{i}" for i in range(5)]

    bare_row = server.predict("acs", rows[0])  # one row, no envelope
    assert bare_row.status_code == 200
    split = server.predict(
        "acs",
        {
            "dataframe_split": {
                "columns": FEATURES,
                "data": [[r[c] for c in FEATURES] for r in rows],
            }
        },
    )
    assert split.json()["predictions"] == many.json()["predictions"]


def test_client_ids_name_the_rows(server: LiveServer, acs_rows) -> None:
    rows = records(acs_rows.head(3))
    answer = server.predict("acs", {"records": rows, "ids": ["a-1", "a-2", "a-3"]})
    assert answer.json()["ids"] == ["a-1", "a-2", "a-3"]
    duplicate = server.predict("acs", {"records": rows, "ids": ["a", "a", "b"]})
    assert duplicate.status_code == 422
    assert "distinct id per row" in duplicate.json()["message"]


def test_signature_errors_are_422_with_every_problem(server: LiveServer, acs_rows) -> None:
    row = records(acs_rows.head(1))[0]
    wrong_type = {**row, "AGEP": "forty"}
    missing = {k: v for k, v in row.items() if k != "SEX"}
    out_of_domain = {**row, "AGEP": 130.0, "RAC1P": "77"}
    answer = server.predict("acs", {"records": [wrong_type, missing, out_of_domain]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "SignatureMismatch"
    message = body["message"]
    assert "'AGEP': wrong type: 'forty' (row 0); expected numbers" in message
    kinds = {(p["column"], p["kind"]) for p in body["problems"]}
    assert ("AGEP", "wrong_type") in kinds and ("SEX", "missing_value") in kinds
    no_sex = server.predict("acs", {"records": [missing]}).json()
    assert no_sex["problems"][0]["kind"] == "missing_column"
    assert "'SEX': missing column; expected a column of one of '1', '2'" in no_sex["message"]
    alone = server.predict("acs", {"records": [out_of_domain]}).json()
    assert {(p["column"], p["kind"]) for p in alone["problems"]} == {
        ("AGEP", "out_of_range"),
        ("RAC1P", "unseen_category"),
    }
    assert "expected numbers in [0, 99]" in alone["message"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b'"text"', 422, "not rows"),
        (b"[]", 422, "No rows to predict"),
        (b"[1, 2]", 422, "Row 0 is a JSON int"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', 422, "list of rows of 1"),
    ],
)
def test_malformed_bodies_are_answered_not_fatal(
    server: LiveServer, body: bytes, status: int, needle: str
) -> None:
    answer = server.http.post(
        "/v1/endpoints/acs/predict", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status
    assert needle in answer.json()["message"]
    assert server.http.get("/healthz").status_code == 200


def test_a_body_over_the_limit_is_413(server: LiveServer, acs_rows) -> None:
    big = {"records": records(acs_rows.head(600))}  # about 150 kB, limit 64 kB
    answer = server.predict("acs", big)
    assert answer.status_code == 413
    assert "at most 65536 bytes" in answer.json()["message"]

    def chunks():  # no content-length: the limit holds while streaming
        yield b'{"records": ['
        for _ in range(4000):
            yield b'{"AGEP": 30.0, "SEX": "1"},'
        yield b"{}]}"

    streamed = server.http.post("/v1/endpoints/acs/predict", content=chunks())
    assert streamed.status_code == 413


def test_unknown_endpoint_is_404_and_the_openapi_document_is_served(server: LiveServer) -> None:
    answer = server.predict("nope", {"records": [{}]})
    assert answer.status_code == 404
    assert "serves: acs" in answer.json()["message"]
    document = server.http.get("/openapi.json").json()
    assert "/v1/endpoints/{endpoint}/predict" in document["paths"]
    post = document["paths"]["/v1/endpoints/{endpoint}/predict"]["post"]
    assert "requestBody" in post and "422" in post["responses"]


def test_health_readiness_and_metrics(server: LiveServer, acs_rows) -> None:
    assert server.predict("acs", {"records": records(acs_rows.head(2))}).status_code == 200
    assert server.predict("acs", {"records": [{"AGEP": "x"}]}).status_code == 422
    ready = server.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["endpoints"] == {"acs": True} and ready.json()["store"] == "ok"
    text = server.http.get("/metrics").text
    assert 'steward_requests_total{endpoint="acs",model="acs@1",status="ok",shadow="false"' in text
    assert 'status="rejected"' in text
    assert 'steward_request_latency_ms_bucket{endpoint="acs",model="acs@1"' in text
    assert "steward_prediction_log_written_rows" in text
    assert "worker=" not in text  # one worker: its numbers are the server's, no label


def test_a_model_that_raises_answers_500_and_the_server_stays_up(
    acs_store: StoreCopy, live_server: Callable[..., LiveServer], acs_rows
) -> None:
    acs_store.client.deploy("acs@3", "broken", project="acs", strategy="direct")
    server = live_server(acs_store, endpoints=("broken",))
    answer = server.predict("broken", {"records": records(acs_rows.head(2))})
    assert answer.status_code == 500
    assert (
        "Model acs@3 failed: RuntimeError: this challenger is broken on purpose"
        in (answer.json()["message"])
    )
    assert server.http.get("/healthz").status_code == 200


def test_a_retired_version_cannot_be_deployed_and_a_routed_one_cannot_be_retired(
    acs_store: StoreCopy,
) -> None:
    st = acs_store.client
    st.deploy("acs@1", "acs", project="acs", strategy="direct")
    with pytest.raises(ms.Conflict, match=r"endpoint 'acs' .* still routes traffic to it"):
        st.models.retire("acs@1", reason="old", project="acs")
    st.models.retire("acs@5", reason="flipped scores", project="acs")
    with pytest.raises(ms.Conflict, match="retired"):
        st.deploy("acs@5", "acs", project="acs", strategy="direct")

"""Safe formats: round trips per format, untrusted types refused by name, pickle only with
audited trust, tampered artifacts detected."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlsteward as ms
from mlsteward.registry import TRUSTED_TYPES, load_bundle

PROJECT = "reg"
NUMERIC = ["age", "hours", "edu"]


class Smuggled:
    """A class of the test module: not in Steward's trusted list."""

    def __init__(self) -> None:
        self.payload = "anything"


def _project(st: Any) -> str:
    if PROJECT not in {p.name for p in st.list_projects()}:
        st.create_project(PROJECT)
    return PROJECT


def _sklearn_models(new_pipeline: Any) -> dict[str, tuple[Any, list[str], str | None]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    return {
        "logistic": (LogisticRegression(max_iter=300), NUMERIC, None),
        "hgb": (
            HistGradientBoostingClassifier(max_iter=15, random_state=0),
            NUMERIC,
            "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        ),
        "forest": (
            RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
            NUMERIC,
            "sklearn.tree._tree.Tree",
        ),
        "pipeline": (new_pipeline(), ["age", "hours", "sex", "edu"], None),
    }


@pytest.mark.parametrize("kind", ["logistic", "hgb", "forest", "pipeline"])
def test_skops_round_trip_predicts_exactly(
    sqlite_client: Any, frame: pd.DataFrame, new_pipeline: Any, kind: str
) -> None:
    model, columns, needed_type = _sklearn_models(new_pipeline)[kind]
    x = frame[columns]
    model.fit(x, frame["y"])
    project = _project(sqlite_client)
    version = sqlite_client.models.register(kind, project=project, model=model, input_example=x)
    assert (version.format, version.flavor) == ("skops", "sklearn")
    if needed_type is not None:
        assert needed_type in version.trusted_types
        assert needed_type in TRUSTED_TYPES
    predictor = sqlite_client.load_model(f"{kind}@1", project=project)
    assert type(predictor.model) is type(model)
    assert np.array_equal(predictor.predict(x), model.predict(x))
    assert np.array_equal(predictor.predict_proba(x), model.predict_proba(x))
    assert predictor.classes == [0, 1]


def test_xgboost_native_round_trip(sqlite_client: Any, frame: pd.DataFrame) -> None:
    xgboost = pytest.importorskip("xgboost", reason="xgboost is not installed")
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(frame[NUMERIC], frame["y"])
    project = _project(sqlite_client)
    version = sqlite_client.models.register("xgb", project=project, model=model)
    assert (version.format, version.flavor) == ("xgboost-ubj", "xgboost")
    assert "xgboost" in "".join(version.requirements["packages"])
    predictor = sqlite_client.load_model("xgb@latest", project=project)
    assert isinstance(predictor.model, xgboost.XGBClassifier)
    assert predictor.signature.names == NUMERIC
    assert np.array_equal(
        predictor.predict_proba(frame[NUMERIC]), model.predict_proba(frame[NUMERIC])
    )


def test_lightgbm_native_round_trip(sqlite_client: Any, frame: pd.DataFrame) -> None:
    lightgbm = pytest.importorskip("lightgbm", reason="lightgbm is not installed")
    model = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(frame[NUMERIC], frame["y"])
    project = _project(sqlite_client)
    version = sqlite_client.models.register("lgbm", project=project, model=model)
    assert (version.format, version.flavor) == ("lightgbm-text", "lightgbm")
    predictor = sqlite_client.load_model("lgbm@1", project=project)
    x = frame[NUMERIC]
    assert np.array_equal(predictor.predict_proba(x), model.predict_proba(x))
    assert np.array_equal(predictor.predict(x), model.predict(x))


def test_an_estimator_holding_a_custom_class_is_refused_naming_it(
    sqlite_client: Any, frame: pd.DataFrame
) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame[NUMERIC], frame["y"])
    model.helper_ = Smuggled()
    project = _project(sqlite_client)
    with pytest.raises(ms.PermissionDenied) as info:
        sqlite_client.models.register("smuggler", project=project, model=model)
    message = str(info.value)
    assert f"{__name__}.Smuggled" in message
    assert "does not trust" in message and "trust=True" in message
    assert sqlite_client.models.list(project=project) == []


def test_a_function_reference_in_a_file_is_refused_even_with_trust(
    sqlite_client: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(func=eval), LogisticRegression())
    path = tmp_path / "evil.skops"
    sio.dump(model, path)
    project = _project(sqlite_client)
    for trust in (False, True):  # trust covers pickle formats; skops types stay Steward's
        with pytest.raises(ms.PermissionDenied, match=r"builtins\.eval"):
            sqlite_client.models.register("evil", project=project, file=path, trust=trust)


@pytest.mark.parametrize("fmt", ["pickle", "joblib"])
def test_pickle_is_refused_without_trust_and_audited_with_it(
    sqlite_client: Any, frame: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame[NUMERIC], frame["y"])
    path = tmp_path / ("model.pkl" if fmt == "pickle" else "model.joblib")
    if fmt == "pickle":
        path.write_bytes(pickle.dumps(model))
    else:
        import joblib

        joblib.dump(model, path)
    project = _project(sqlite_client)
    with pytest.raises(ms.PermissionDenied) as info:
        sqlite_client.models.register("pickled", project=project, file=path)
    assert f"is a {fmt} file" in str(info.value) and "trust=True" in str(info.value)
    assert sqlite_client.audit_log(action="model.register") == []

    version = sqlite_client.models.register("pickled", project=project, file=path, trust=True)
    assert (version.format, version.pickle_trusted) == (fmt, True)
    [trust_event] = sqlite_client.audit_log(action="model.trust")
    assert trust_event.entity_id == f"{project}/pickled"
    assert trust_event.actor == "tester"
    assert trust_event.payload["artifact_digest"] == version.artifact_digest
    assert trust_event.payload["version"] == 1
    predictor = sqlite_client.load_model("pickled@1", project=project)
    x = frame[NUMERIC]
    assert np.array_equal(predictor.predict_proba(x), model.predict_proba(x))

    bundle = sqlite_client.package("pickled@1", str(tmp_path / "bundle"), project=project)
    with pytest.raises(ms.PermissionDenied, match="trust=True"):
        load_bundle(bundle.directory)
    assert np.array_equal(load_bundle(bundle.directory, trust=True).predict(x), model.predict(x))


def test_a_tampered_artifact_is_detected_on_load(trained: Any, tmp_path: Path) -> None:
    st = trained.client
    version = st.models.register("tamper", run=trained.run_id)
    hexdigest = version.artifact_digest.split(":", 1)[1]
    blob = tmp_path / "artifacts" / "objects" / hexdigest[:2] / hexdigest[2:]
    assert blob.is_file()
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(ms.IntegrityViolation) as info:
        st.load_model("tamper@1")
    assert f"{PROJECT}/tamper@1" in str(info.value)
    assert "corrupted" in str(info.value)
    with pytest.raises(ms.IntegrityViolation):
        st.package("tamper@1", str(tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists()


def test_an_unknown_file_format_names_the_formats(sqlite_client: Any, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00\x01")
    _project(sqlite_client)
    with pytest.raises(ms.InvalidInput, match="skops, xgboost-ubj"):
        sqlite_client.models.register("m", file=path)


def test_an_xgboost_file_registers_as_its_scikit_learn_wrapper(
    sqlite_client: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    xgboost = pytest.importorskip("xgboost", reason="xgboost is not installed")
    model = xgboost.XGBRegressor(n_estimators=5).fit(frame[NUMERIC], frame["hours"])
    path = tmp_path / "model.ubj"
    model.save_model(path)
    project = _project(sqlite_client)
    version = sqlite_client.models.register("xgbfile", project=project, file=path)
    assert version.format == "xgboost-ubj" and version.model_class.endswith("XGBRegressor")
    assert version.signature.task == "regression"
    predictor = sqlite_client.load_model("xgbfile@1", project=project)
    assert np.array_equal(predictor.predict(frame[NUMERIC]), model.predict(frame[NUMERIC]))


def test_categorical_columns_predict_the_same_from_records(
    sqlite_client: Any, frame: pd.DataFrame
) -> None:
    lightgbm = pytest.importorskip("lightgbm", reason="lightgbm is not installed")
    x = frame[["age", "hours", "sex"]].astype({"sex": "category"})
    model = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(x, frame["y"])
    project = _project(sqlite_client)
    dataset = sqlite_client.datasets.register(project, "cats", x.assign(y=frame["y"]))
    version = sqlite_client.models.register(
        "lgbm-cat", project=project, model=model, datasets=[dataset]
    )
    assert version.signature.column("sex").categories == ("f", "m")
    predictor = sqlite_client.load_model("lgbm-cat@1", project=project)
    records = x.astype(object).to_dict(orient="records")
    assert isinstance(records[0]["sex"], str)
    assert np.array_equal(predictor.predict_proba(records), model.predict_proba(x))

"""Bundles: contents, exact predictions in a fresh process, tampering detected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlsteward as ms
from mlsteward.cli import run as cli
from mlsteward.registry import check_bundle, load_bundle, verify_bundle

FILES = [
    "Dockerfile",
    "MODEL_CARD.md",
    "charter.json",
    "model.json",
    "model/model.skops",
    "pipeline.json",
    "requirements.txt",
    "signature.json",
]

FRESH_PROCESS = """
import sys
import numpy as np
import pandas as pd
from mlsteward.registry import load_bundle

predictor = load_bundle(sys.argv[1])
rows = pd.read_parquet(sys.argv[2])
np.save(sys.argv[3], predictor.predict_proba(rows))
np.save(sys.argv[4], predictor.predict(rows))
"""


@pytest.fixture
def bundle(trained: Any, tmp_path: Path) -> Any:
    st = trained.client
    st.models.register("acs", run=trained.run_id, alias="champion", reason="first")
    return st.package("acs@champion", str(tmp_path / "bundle"))


def test_a_bundle_holds_every_file_with_its_hash(bundle: Any, trained: Any) -> None:
    assert bundle.files == FILES
    root = bundle.directory
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["model"]["ref"] == "acs@1"
    assert manifest["model"]["format"] == "skops"
    requirements = (root / "requirements.txt").read_text().splitlines()
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert any(line.startswith("skops==") for line in requirements)
    assert not any(line.startswith("pytest") for line in requirements)
    dockerfile = (root / "Dockerfile").read_text()
    assert 'CMD ["steward", "serve", "--bundle", "/bundle"' in dockerfile
    assert "RUN steward package verify /bundle" in dockerfile
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in dockerfile
    card = (root / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: acs@1") and trained.dataset.ref in card
    assert json.loads((root / "signature.json").read_text())["inputs"][0]["name"] == "age"
    assert json.loads((root / "charter.json").read_text())["charter"] is None
    assert json.loads((root / "pipeline.json").read_text())["steps"][1]["name"] == "clf"
    [event] = trained.client.audit_log(action="model.package")
    assert event.payload["manifest_digest"] == bundle.manifest_digest
    assert verify_bundle(root).ok


def test_a_bundle_predicts_exactly_in_a_fresh_process(
    bundle: Any, trained: Any, tmp_path: Path
) -> None:
    rows = trained.features
    rows.to_parquet(tmp_path / "rows.parquet")
    script = tmp_path / "predict.py"
    script.write_text(FRESH_PROCESS)
    out_proba, out_pred = tmp_path / "proba.npy", tmp_path / "pred.npy"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(bundle.directory),
            str(tmp_path / "rows.parquet"),
            str(out_proba),
            str(out_pred),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(out_proba), trained.model.predict_proba(rows))
    assert np.array_equal(np.load(out_pred), trained.model.predict(rows))


def test_tampered_missing_and_extra_files_are_named(bundle: Any, capsys: Any) -> None:
    root = bundle.directory
    model_file = root / "model" / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0x01
    model_file.write_bytes(bytes(data))
    (root / "MODEL_CARD.md").unlink()
    (root / "model" / "backdoor.py").write_text("import os\n")
    result = verify_bundle(root)
    assert not result.ok
    assert [(p.path, p.kind) for p in result.problems] == [
        ("MODEL_CARD.md", "missing"),
        ("model/model.skops", "changed"),
        ("model/backdoor.py", "extra"),
    ]
    with pytest.raises(ms.IntegrityViolation, match=r"model/model\.skops: changed"):
        load_bundle(root)
    assert cli(["package", "verify", str(root)]) == ms.IntegrityViolation.exit_code
    err = capsys.readouterr().err
    assert "model/model.skops: changed" in err and "MODEL_CARD.md: missing" in err
    assert "model/backdoor.py: extra file" in err


def test_a_rewritten_manifest_is_caught_by_its_recorded_digest(bundle: Any) -> None:
    manifest_path = bundle.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["ref"] = "acs@99"
    manifest_path.write_text(json.dumps(manifest))
    result = check_bundle(bundle.directory)  # the files still match the listed hashes...
    assert result.manifest_digest != bundle.manifest_digest  # ...but not the audited digest
    (bundle.directory / "manifest.json").write_text("{not json")
    assert [p.kind for p in verify_bundle(bundle.directory).problems] == ["manifest"]


def test_packaging_never_clobbers_another_directory(trained: Any, tmp_path: Path) -> None:
    st = trained.client
    st.models.register("acs", run=trained.run_id)
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ms.AlreadyExists, match="not empty"):
        st.package("acs@1", str(target))
    with pytest.raises(ms.AlreadyExists, match="not a Steward bundle"):
        st.package("acs@1", str(target), overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"
    first = st.package("acs@1", str(tmp_path / "b"))
    again = st.package("acs@1", str(tmp_path / "b"), overwrite=True)
    assert again.files == first.files and verify_bundle(again.directory).ok
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".steward-bundle-")]

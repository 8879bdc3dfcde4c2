"""The demo's registry step: champion and challenger from the development step's ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from mlsteward.demo._registry import MODEL_NAME, step_registry
from mlsteward.demo._runner import STEPS, DemoContext


def test_the_step_follows_development_in_the_demo() -> None:
    titles = [s.run for s in STEPS]
    assert step_registry in titles
    assert (
        titles.index(step_registry)
        == [s.title for s in STEPS].index("Develop candidate models") + 1
    )


def test_best_becomes_champion_and_runner_up_challenger(
    sqlite_client: Any,
    frame: pd.DataFrame,
    fitted_pipeline: Any,
    new_pipeline: Any,
    train: Any,
    tmp_path: Path,
) -> None:
    st = sqlite_client
    first = train(st, frame, fitted_pipeline, name="strong")
    weaker = new_pipeline().set_params(clf__C=0.01).fit(first.features, frame["y"])
    with st.start_run(first.project, "registry-tests", name="weak") as run:
        weak = run.log_model(weaker)
    candidates = [
        {
            "family": "strong",
            "run_id": first.run_id,
            "model": st.runs.get(first.run_id).models[0],
            "val_roc_auc": 0.91,
        },
        {"family": "weak", "run_id": run.id, "model": weak, "val_roc_auc": 0.70},
    ]
    ctx = DemoContext(client=st, directory=tmp_path, console=Console(), project=first.project)
    ctx.results["candidates"] = candidates
    summary = step_registry(ctx)
    champion = st.models.get(f"{MODEL_NAME}@champion")
    challenger = st.models.get(f"{MODEL_NAME}@challenger")
    assert (champion.source_run_id, challenger.source_run_id) == (first.run_id, run.id)
    assert "0.9100" in st.audit_log(action="model.alias.set")[0].payload["reason"]
    assert "verified" in summary and f"{MODEL_NAME}@1 champion (strong" in summary
    assert (tmp_path / "bundles" / f"{MODEL_NAME}-1" / "manifest.json").is_file()

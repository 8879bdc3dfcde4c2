"""Demo step of the registry: register the best candidate as ``champion`` and the runner-up
as ``challenger``, then package the champion as a verified bundle.

The candidates come from the development step (``ctx.results["candidates"]``, best
first). Run alone, the step trains two quick models on a sample of ACS 2015 itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from mlsteward.core import InvalidInput

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["MODEL_NAME", "step_registry"]

MODEL_NAME: Final = "employment"
_FALLBACK_ROWS: Final = 5_000


def _fallback_candidates(ctx: DemoContext) -> list[dict[str, Any]]:
    """Two quick candidates, tracked, when the development step did not run."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlsteward.datasets import load_acs_employment

    acs = ctx.results.get("acs")
    frame = load_acs_employment(years=[2015]) if acs is None else acs[acs["year"] == 2015]
    frame = frame.sample(n=min(_FALLBACK_ROWS, len(frame)), random_state=2015)
    features = frame.drop(
        columns=[
            c
            for c in ("employed", "id", "year", "prediction", "predicted_probability")
            if c in frame.columns
        ]
    )
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, frame["employed"], test_size=0.3, random_state=2015
    )
    candidates: list[dict[str, Any]] = []
    for family, model in (
        ("hist-gradient-boosting", HistGradientBoostingClassifier(max_iter=60, random_state=0)),
        ("logistic-regression", make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))),
    ):
        with ctx.client.start_run(ctx.project, "registry-fallback", name=family) as run:
            model.fit(x_train, y_train)
            auc = float(roc_auc_score(y_valid, model.predict_proba(x_valid)[:, 1]))
            run.log_metric("val_roc_auc", auc)
            candidate = run.log_model(model)
        candidates.append(
            {
                "family": family,
                "run_id": run.id,
                "model": candidate,
                "val_roc_auc": auc,
                "example": x_train.head(50),  # no registered dataset here: names and types
            }
        )
    candidates.sort(key=lambda c: float(c["val_roc_auc"]), reverse=True)
    return candidates


def step_registry(ctx: DemoContext) -> str:
    """Register champion and challenger; package and verify the champion's bundle."""
    from mlsteward.registry import verify_bundle

    candidates = ctx.results.get("candidates") or _fallback_candidates(ctx)
    if len(candidates) < 2:
        raise InvalidInput(
            f"The registry step needs two candidates (champion and challenger); the development "
            f"step produced {len(candidates)}."
        )
    best, runner_up = candidates[0], candidates[1]
    models = ctx.client.models
    registered = {}
    for alias, candidate, why in (
        ("champion", best, "best"),
        ("challenger", runner_up, "second best"),
    ):
        registered[alias] = models.register(
            MODEL_NAME,
            project=ctx.project,
            run=candidate["run_id"],
            artifact=candidate["model"].path,
            description=f"{candidate['family']} candidate of the demo",
            input_example=candidate.get("example"),
            alias=alias,
            reason=(
                f"{why} validation ROC AUC ({candidate['val_roc_auc']:.4f}) of "
                f"{len(candidates)} candidates"
            ),
        )
    champion = registered["champion"]
    bundle = ctx.client.package(
        f"{MODEL_NAME}@champion",
        str(ctx.directory / "bundles" / f"{MODEL_NAME}-{champion.version}"),
        project=ctx.project,
    )
    check = verify_bundle(bundle.directory)
    ctx.results["registry"] = {"versions": registered, "bundle": bundle}
    challenger = registered["challenger"]
    return (
        f"{champion.ref} champion ({best['family']}, {len(champion.signature.inputs)} inputs, "
        f"domain from {champion.signature.source}), {challenger.ref} challenger "
        f"({runner_up['family']}); bundle {bundle.directory.relative_to(ctx.directory)} "
        f"{'verified' if check.ok else 'FAILED verification'} ({check.files} files)"
    )

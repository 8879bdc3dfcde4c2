"""Demo step of monitoring: three years of ACS traffic, a pipeline fault, and the catch.

The champion answers the 2016, 2017 and 2018 ACS records as production traffic, spread
over each year, and every answer goes to the endpoint's prediction log through the
serving package's log writer (the model server's own writer; the endpoint checks input
domains in ``warn`` mode, as many teams do rather than refuse callers). From July 2018
one of three sources (every row whose id is divisible by 3) sends AGEP in *months*
instead of years: a realistic data-pipeline fault. Labels (employment status) arrive a
year later, so 2016 and 2017 are labelled and 2018 is not.

The step monitors the log in 30-day windows against the training data, with the yearly
dataset versions as the offline features of the same people (training-serving skew), and
shows that the fault is caught, naming AGEP, and how estimated ROC AUC compares with the
realized one where labels arrived. The report goes to ``reports/monitoring-<endpoint>.html``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["FAULT_START", "step_monitor"]

YEARS: Final = (2016, 2017, 2018)
LABELLED_YEARS: Final = (2016, 2017)
FAULT_START: Final = datetime(2018, 7, 1, tzinfo=UTC)
FAULTY_FEATURE: Final = "AGEP"
DEFAULT_ENDPOINT: Final = "acs-employment"
COST_PER_HOUR: Final = 0.0002
"""What the endpoint's replica costs per hour in the demo (USD): about 0.025 per 1,000."""
NOT_FEATURES: Final = ("employed", "id", "year", "prediction", "predicted_probability")


def _endpoint(ctx: DemoContext) -> str:
    """The serving step's endpoint, or the champion deployed directly when it did not run."""
    serving = ctx.results.get("serving")
    if serving is not None:
        return str(serving["endpoint"])
    from mlsteward.demo._registry import MODEL_NAME, step_registry

    if "registry" not in ctx.results:
        step_registry(ctx)
    ctx.client.deploy(
        f"{MODEL_NAME}@champion",
        DEFAULT_ENDPOINT,
        project=ctx.project,
        strategy="direct",
        override_reason="demo: monitoring step run without the serving step",
    )
    return DEFAULT_ENDPOINT


def _times(count: int, year: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` arrival times spread over ``year`` (seconds since the epoch, sorted)."""
    start = datetime(year, 1, 1, tzinfo=UTC).timestamp()
    end = datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()
    return np.sort(rng.uniform(start, end, count))


def _replay(ctx: DemoContext, endpoint: str) -> dict[str, Any]:
    """Score 2016-2018 with the champion and write every answer to the log, by day."""
    from mlsteward.datasets import load_acs_employment
    from mlsteward.registry import load_version
    from mlsteward.serving import LogItem, PredictionLog, ServedModel, log_root

    st = ctx.client
    version = st.models.get("employment@champion", project=ctx.project)
    served = ServedModel.from_version(version, load_version(st.store, version), domain="warn")
    root = log_root(st.store, st.config)
    acs = ctx.results.get("acs")
    if acs is None:
        acs = load_acs_employment()
    names = [c.name for c in version.signature.inputs]
    writer = PredictionLog(root, flush_records=1_000_000, fsync=False)
    rng = np.random.default_rng(2018)
    faulty = 0
    labels: dict[int, tuple[list[str], list[Any]]] = {}
    for year in YEARS:
        frame = acs[acs["year"] == year].sample(frac=1.0, random_state=year)  # arrival order
        frame = frame.reset_index(drop=True)
        times = _times(len(frame), year, rng)
        features = frame[names].copy()
        broken = (times >= FAULT_START.timestamp()) & (frame["id"].to_numpy() % 3 == 0)
        features.loc[broken, FAULTY_FEATURE] = features.loc[broken, FAULTY_FEATURE] * 12
        faulty += int(broken.sum())
        outputs = served.predict_frame(features)
        ids = [str(i) for i in frame["id"].tolist()]
        days = (times // 86400).astype(np.int64)
        bounds = np.flatnonzero(np.diff(days)) + 1
        for lo, hi in zip(
            np.concatenate([[0], bounds]), np.concatenate([bounds, [len(frame)]]), strict=True
        ):
            part = features.iloc[lo:hi]
            writer.record(
                LogItem(
                    endpoint,
                    served,
                    ids[lo:hi],
                    float(times[lo]),
                    float(rng.gamma(2.0, 1.5)),
                    "ok",
                    None,
                    type(outputs)(
                        outputs.predictions[lo:hi],
                        None if outputs.scores is None else outputs.scores[lo:hi],
                        None if outputs.probabilities is None else outputs.probabilities[lo:hi],
                    ),
                    {n: part[n].tolist() for n in names},
                )
            )
        writer.flush()
        if year in LABELLED_YEARS:
            labels[year] = (ids, frame["employed"].astype(int).tolist())
    writer.close()
    for ids, values in labels.values():  # a year later, the survey tells who was employed
        st.log_feedback(endpoint, ids, values)
    return {"root": root, "faulty": faulty, "rows": writer.written}


def step_monitor(ctx: DemoContext) -> str:
    """Replay 2016-2018 with a pipeline fault, monitor it, show the catch and the estimates."""
    st = ctx.client
    endpoint = _endpoint(ctx)
    t0 = time.perf_counter()
    replay = _replay(ctx, endpoint)
    replay_seconds = time.perf_counter() - t0
    data = ctx.results.get("data", {})
    batches = data.get("batches", {})
    skew = [v.ref for v in batches.values()] or None
    champion = st.models.get("employment@champion", project=ctx.project)
    references: dict[str, Any] = {}
    if not champion.training_datasets and "acs-2015" in data:
        # a champion registered without its data (the registry step's quick fallback)
        references["reference"] = data["acs-2015"].ref
        if "test" in data:
            references["performance_reference"] = data["test"].ref
    run = st.monitor(
        endpoint,
        project=ctx.project,
        model=champion.ref,
        **references,
        start=datetime(2016, 1, 1, tzinfo=UTC),
        end=datetime(2019, 1, 1, tzinfo=UTC),
        window="30d",
        skew_reference=skew,
        entity="id" if skew else None,
        entity_column="request_id" if skew else None,
        cost_per_hour=COST_PER_HOUR,
    )
    report = ctx.directory / "reports" / f"monitoring-{endpoint}.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    run.report(str(report))
    ctx.results["monitoring"] = {"run": run, "report": report, **replay}
    caught = [a for a in run.alerts if a.subject == FAULTY_FEATURE]
    first = min((a.window_start for a in caught if a.window_start), default=None)
    kinds = sorted({f"{a.kind}/{a.metric}" for a in caught})
    before = [
        a
        for a in caught
        if a.window_start is not None and a.window_end is not None and a.window_end <= FAULT_START
    ]
    pairs = [
        (p["estimated"], p["realized"], p["low"], p["high"])
        for p in run.series("roc_auc")
        if p["estimated"] is not None and p["realized"] is not None
    ]
    if pairs:
        errors = [abs(e - r) for e, r, _, _ in pairs]
        inside = sum(lo <= r <= hi for _, r, lo, hi in pairs)
        estimate_text = (
            f"estimated vs realized ROC AUC in {len(pairs)} labelled windows: mean absolute "
            f"error {float(np.mean(errors)):.4f}, realized inside the 95% interval in "
            f"{inside}/{len(pairs)}"
        )
    else:
        estimate_text = "no window has both an estimate and labels"
    counts = run.counts()
    return (
        f"{replay['rows']:,} predictions replayed over 2016-2018 in {replay_seconds:.1f}s "
        f"({replay['faulty']:,} with AGEP in months from {FAULT_START:%Y-%m}); "
        f"{len(run.windows)} windows of {run.window}: {counts['critical']} critical, "
        f"{counts['warning']} warning alerts; the fault is caught naming {FAULTY_FEATURE} "
        f"from the window of {first:%Y-%m-%d} ({', '.join(kinds)}; "
        f"{len(before)} AGEP alerts before it); {estimate_text}; report: "
        f"{report.relative_to(ctx.directory)}"
        if first is not None
        else f"the fault was NOT caught: no alert names {FAULTY_FEATURE}; report: {report}"
    )

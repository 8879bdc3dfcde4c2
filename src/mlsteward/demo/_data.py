"""Demo steps of the data stage: register the ACS years, check them, split 2015.

ACS 2015 is the training data; 2016, 2017 and 2018 are later batches (the production
traffic replayed by later steps). Two columns of the bundled file are dropped before
registering: ``prediction`` and ``predicted_probability`` are the outputs of a reference
model that nannyml shipped with the data. They are not inputs a model may see at
prediction time (they are another model's answer, derived from the same features and
fitted against the label), so keeping them would leak a model into the features; they stay
available in the bundled file for comparisons. ``id`` is kept, typed ``id``, so that
duplicate ids are checked and the id never becomes a feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mlsteward.data import DatasetVersion, dataset_report

if TYPE_CHECKING:
    from mlsteward.demo._runner import DemoContext

__all__ = ["ACS_CONSENT", "ACS_LICENSE", "ACS_SOURCE", "step_check", "step_register", "step_split"]

ACS_SOURCE: Final = (
    "US Census American Community Survey (ACS PUMS) person records, Massachusetts, as "
    "prepared by the folktables ACSEmployment task and redistributed in nannyml 0.13.1 "
    "(bundled with Steward: mlsteward.datasets, see PROVENANCE.md)."
)
ACS_LICENSE: Final = "Public domain (US Government work); redistribution Apache-2.0 (nannyml)"
ACS_CONSENT: Final = (
    "Not applicable to consent: public, de-identified official statistics published by "
    "the US Census Bureau for research and statistical use."
)
REFERENCE_MODEL_COLUMNS: Final = ("prediction", "predicted_probability")
COVERAGE_GROUPS: Final = ["SEX", "RAC1P"]
BATCH_YEARS: Final = (2016, 2017, 2018)


def _register(ctx: DemoContext, year: int, role: str) -> DatasetVersion:
    acs = ctx.results["acs"]
    frame = acs[acs["year"] == year].drop(columns=list(REFERENCE_MODEL_COLUMNS))
    return ctx.client.datasets.register(
        ctx.project,
        f"acs-{year}",
        frame.reset_index(drop=True),
        role=role,
        source=ACS_SOURCE,
        license=ACS_LICENSE,
        consent=ACS_CONSENT,
        time_column="year",
        target="employed",
        column_types={"id": "id"},
    )


def step_register(ctx: DemoContext) -> str:
    """Register ACS 2015 as training data and 2016-2018 as later batches."""
    if "acs" not in ctx.results:
        from mlsteward.datasets import load_acs_employment

        ctx.results["acs"] = load_acs_employment()
    train = _register(ctx, 2015, "train")
    batches = {year: _register(ctx, year, "batch") for year in BATCH_YEARS}
    ctx.results["data"] = {"acs-2015": train, "batches": batches}
    return (
        f"{train.short_ref} ({train.row_count:,} rows, role train) and batches "
        + ", ".join(f"{v.short_ref} ({v.row_count:,})" for v in batches.values())
        + f"; dropped the reference model's columns {', '.join(REFERENCE_MODEL_COLUMNS)}"
    )


def step_check(ctx: DemoContext) -> str:
    """Check every year against the charter's input domain, the batches against 2015."""
    data = ctx.results["data"]
    train: DatasetVersion = data["acs-2015"]
    datasets = ctx.client.datasets
    reports = {"acs-2015": datasets.check(ctx.project, train, coverage_groups=COVERAGE_GROUPS)}
    for year, batch in data["batches"].items():
        reports[f"acs-{year}"] = datasets.check(
            ctx.project, batch, reference=train, coverage_groups=COVERAGE_GROUPS
        )
    data["checks"] = reports
    blocking = sorted(
        {
            f"{name}: {r.name}"
            for name, rep in reports.items()
            for r in rep.results
            if r.blocking_failure
        }
    )
    warnings = sorted(
        {r.name for rep in reports.values() for r in rep.results if r.status == "fail"}
        - {b.split(": ")[1] for b in blocking}
    )
    coverage = next(r for r in reports["acs-2015"].results if r.kind == "coverage")
    thin = [k for k, v in coverage.details.get("cells", {}).items() if "problems" in v]
    tags = datasets.tags(ctx.project, train)
    report = ctx.directory / "reports" / "data-acs-2015.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(dataset_report(ctx.client.store, ctx.project, train), encoding="utf-8")
    data["report"] = report
    verdict = (
        f"{len(reports)} versions checked, no blocking failure"
        if not blocking
        else f"blocking failures: {', '.join(blocking)}"
    )
    return (
        f"{verdict}; warnings: {', '.join(warnings) or 'none'}; SEX x RAC1P groups under "
        f"30 rows in 2015: {', '.join(thin) or 'none'}; personal-data tags: {len(tags)}; "
        f"report: {report.relative_to(ctx.directory)}"
    )


def step_split(ctx: DemoContext) -> str:
    """Split ACS 2015 stratified by the target into train, validation and test."""
    data = ctx.results["data"]
    children = ctx.client.datasets.split(
        ctx.project,
        data["acs-2015"],
        method="stratified",
        fractions={"train": 0.7, "validation": 0.15, "test": 0.15},
        seed=2015,
    )
    data.update(children)
    return ", ".join(f"{part} {v.short_ref} ({v.row_count:,} rows)" for part, v in children.items())

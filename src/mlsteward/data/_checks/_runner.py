"""Running a check spec on a version, storing the results, reading them back."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from mlsteward.charter import get_charter
from mlsteward.core import InvalidInput, NotFound, StewardError, ensure_utc, new_id, utcnow
from mlsteward.data._checks._collection import check_coverage, check_freshness
from mlsteward.data._checks._context import CheckContext, Domain
from mlsteward.data._checks._duplicates import check_duplicate_ids, check_duplicate_rows
from mlsteward.data._checks._outliers import check_outliers
from mlsteward.data._checks._personal import check_personal_data
from mlsteward.data._checks._quality import (
    check_constant,
    check_domain,
    check_missing,
    check_schema,
)
from mlsteward.data._checks._spec import CheckSpec, load_spec, spec_from_mapping
from mlsteward.data._checks._target import check_label_balance, check_leakage, check_relevance
from mlsteward.data._profile import DatasetProfile
from mlsteward.data._records import CheckReport, CheckResult, DatasetVersion
from mlsteward.data._versions import local_data_file, read_profile, resolve_dataset, resolve_in
from mlsteward.store import Store, canonical_json
from mlsteward.store.metadata import (
    DatasetCheckResultRow,
    DatasetCheckRunRow,
    DatasetComplianceTagRow,
    SqlDatasetRepository,
)

__all__ = [
    "CHECKS",
    "charter_context",
    "check_dataset",
    "check_reports",
    "default_spec",
    "latest_check_report",
]

CHECKS: dict[str, Callable[[Any, CheckContext], CheckResult]] = {
    "schema": check_schema,
    "missing": check_missing,
    "domain": check_domain,
    "duplicate_rows": check_duplicate_rows,
    "duplicate_ids": check_duplicate_ids,
    "outliers": check_outliers,
    "constant": check_constant,
    "leakage": check_leakage,
    "label_balance": check_label_balance,
    "freshness": check_freshness,
    "coverage": check_coverage,
    "relevance": check_relevance,
    "personal_data": check_personal_data,
}


def charter_context(store: Store, project: str) -> tuple[Domain | None, list[str]]:
    """The input domain and the sensitive attributes of the project's latest charter.

    (None, []) when the project has no charter.
    """
    try:
        version = get_charter(store, project)
    except NotFound:
        return None, []
    charter = version.charter
    ranges: dict[str, tuple[float | None, float | None]] = {}
    categories: dict[str, list[Any]] = {}
    for name, domain in charter.scope.input_domain.items():
        if domain.allowed is not None:
            categories[name] = list(domain.allowed)
        else:
            ranges[name] = (domain.min, domain.max)
    sensitive: list[str] = []
    for limit in charter.constraints.fairness:
        sensitive.extend(a for a in limit.sensitive_attributes if a not in sensitive)
    domain_record = None
    if ranges or categories:
        domain_record = Domain(ranges, categories, f"charter {version.ref}")
    return domain_record, sensitive


def default_spec(
    version: DatasetVersion,
    *,
    reference: DatasetVersion | None = None,
    coverage_groups: list[str] | None = None,
    has_domain: bool = False,
) -> CheckSpec:
    """The checks run when no spec is given.

    Always: missing values (warning above 5 %), duplicate rows (warning), constant columns
    (warning), outliers (warning above 1 %), personal data (warning, tagged). With id
    columns: duplicate ids (blocking). With a reference: schema (blocking). With a
    reference or a charter input domain: domain (blocking). With a target: leakage
    (blocking), label balance and relevance (warnings). With coverage groups (by default
    the charter's sensitive attributes present in the data): coverage (warning, 30 rows).
    """
    checks: list[dict[str, Any]] = []
    if reference is not None:
        checks.append({"kind": "schema"})
    checks.append({"kind": "missing"})
    if reference is not None or has_domain:
        checks.append({"kind": "domain"})
    checks.append({"kind": "duplicate_rows"})
    if "id" in version.column_types.values():
        checks.append({"kind": "duplicate_ids"})
    checks.extend([{"kind": "outliers"}, {"kind": "constant"}])
    if version.target is not None:
        checks.extend([{"kind": "leakage"}, {"kind": "label_balance"}, {"kind": "relevance"}])
    groups = [g for g in coverage_groups or [] if g in version.columns]
    if groups:
        checks.append({"kind": "coverage", "groups": groups})
    checks.append({"kind": "personal_data"})
    return spec_from_mapping(
        {"reference": reference.ref if reference else None, "checks": checks}, "the default spec"
    )


def _profiles(store: Store) -> Callable[[DatasetVersion], Callable[[], DatasetProfile | None]]:
    """Loaders of versions' stored profiles. A loader gives None when the version has none,
    or one that does not describe it (another row count, columns or types): the checks
    then profile the data file themselves."""

    def for_version(version: DatasetVersion) -> Callable[[], DatasetProfile | None]:
        def load() -> DatasetProfile | None:
            if version.profile_digest is None:
                return None
            try:
                stored = DatasetProfile.from_dict(read_profile(store, version))
            except InvalidInput:
                return None
            if stored.row_count != version.row_count or stored.column_types != version.column_types:
                return None
            return stored

        return load

    return for_version


def _run(spec: CheckSpec, ctx: CheckContext) -> list[CheckResult]:
    results = []
    for check in spec.checks:
        try:
            results.append(CHECKS[check.kind](check, ctx))
            ctx.release()  # each check's working memory goes before the next one starts
        except StewardError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InvalidInput(
                f"The {check.label!r} check could not run on {ctx.version.short_ref}: {exc}. "
                "Check its parameters against the data (docs/data.md lists them)."
            ) from exc
    return results


def check_dataset(
    store: Store,
    project: str,
    ref: str | DatasetVersion,
    *,
    spec: CheckSpec | dict[str, Any] | str | Path | None = None,
    reference: str | DatasetVersion | None = None,
    coverage_groups: list[str] | None = None,
    now: datetime | None = None,
    save: bool = True,
) -> CheckReport:
    """Run checks on a version and (by default) store the results with it.

    ``spec`` is a :class:`CheckSpec`, a dict, or a YAML/JSON path; without one
    :func:`default_spec` applies. ``reference`` (or the spec's ``reference``) supplies the
    expected schema, domain and shares. Compliance tags found by the personal-data check
    are recorded on the version. Errors in the spec or the data (unknown columns, bad
    parameters) raise before anything is stored. ``report.passed`` is False when a
    blocking check failed.
    """
    with store.reader() as session:
        version = resolve_in(session, project, ref)
    parsed = load_spec(spec) if spec is not None else None
    reference_ref = reference if reference is not None else (parsed.reference if parsed else None)
    reference_version = (
        resolve_dataset(store, project, reference_ref) if reference_ref is not None else None
    )
    domain, sensitive = charter_context(store, project)
    if parsed is None:
        parsed = default_spec(
            version,
            reference=reference_version,
            coverage_groups=coverage_groups if coverage_groups is not None else sensitive,
            has_domain=domain is not None,
        )
    moment = ensure_utc(now) if now is not None else utcnow()
    with ExitStack() as stack:
        path = stack.enter_context(local_data_file(store, version))
        reference_path = (
            stack.enter_context(local_data_file(store, reference_version))
            if reference_version is not None
            else None
        )
        ctx = CheckContext.open(
            version,
            path,
            reference_version,
            reference_path,
            domain,
            moment,
            profiles=_profiles(store),
        )
        stack.callback(ctx.close)
        results = _run(parsed, ctx)
    document = parsed.to_dict()
    if reference_version is not None:
        document["reference"] = reference_version.ref
    report = CheckReport(
        id=new_id(),
        dataset=version.ref,
        reference=reference_version.ref if reference_version else None,
        results=tuple(results),
        spec=document,
        created_at=utcnow(),
        created_by=store.actor,
    )
    if save:
        _save(store, version, reference_version, report, parsed)
    return report


def _save(
    store: Store,
    version: DatasetVersion,
    reference: DatasetVersion | None,
    report: CheckReport,
    spec: CheckSpec,
) -> None:
    tags_enabled = {c.label for c in spec.checks if c.kind == "personal_data" and c.record_tags}
    with store.transaction() as tx:
        repo = SqlDatasetRepository(tx.session)
        run = DatasetCheckRunRow(
            id=report.id,
            version_id=version.id,
            reference_id=reference.id if reference else None,
            spec_json=canonical_json(report.spec),
            passed=report.passed,
            created_at=report.created_at,
            created_by=report.created_by,
        )
        rows = [
            DatasetCheckResultRow(
                id=new_id(),
                run_id=report.id,
                position=position,
                kind=r.kind,
                name=r.name,
                status=r.status,
                severity=r.severity,
                message=r.message,
                details_json=canonical_json({**r.details, "_columns": list(r.columns)}),
            )
            for position, r in enumerate(report.results)
        ]
        repo.add_check_run(run, rows)
        added = []
        for r in report.results:
            if r.kind != "personal_data" or r.name not in tags_enabled:
                continue
            for column, tags in r.details.get("columns", {}).items():
                for tag, evidence in tags.items():
                    if repo.add_tag(
                        DatasetComplianceTagRow(
                            id=new_id(),
                            version_id=version.id,
                            column=column,
                            tag=tag,
                            source=f"check:{r.name}",
                            details_json=canonical_json(evidence),
                            created_at=report.created_at,
                            created_by=store.actor,
                        )
                    ):
                        added.append({"column": column, "tag": tag})
        tx.audit(
            "dataset.check",
            "dataset_version",
            f"{version.project}/{version.ref}",
            {
                "run": report.id,
                "passed": report.passed,
                "reference": report.reference,
                "results": {r.name: r.status for r in report.results},
                "tags_added": added,
            },
        )


def check_reports(store: Store, project: str, ref: str | DatasetVersion) -> list[CheckReport]:
    """Stored check runs of a version, newest first."""
    with store.reader() as session:
        version = resolve_in(session, project, ref)
        repo = SqlDatasetRepository(session)
        reports = []
        for run in repo.check_runs(version.id):
            reference = None
            if run.reference_id is not None:
                ref_row = repo.get_version(run.reference_id)
                reference = f"{ref_row.name}@{ref_row.version}" if ref_row else None
            reports.append(
                CheckReport.from_rows(run, repo.check_results(run.id), version.ref, reference)
            )
        return reports


def latest_check_report(
    store: Store, project: str, ref: str | DatasetVersion
) -> CheckReport | None:
    """The newest stored check run of a version, or None."""
    reports = check_reports(store, project, ref)
    return reports[0] if reports else None

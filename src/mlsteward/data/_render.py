"""Rendering the stored evidence of a version as the data report (HTML or JSON)."""

from __future__ import annotations

from typing import Literal

from mlsteward.data._checks import latest_check_report
from mlsteward.data._profile import DatasetProfile
from mlsteward.data._records import DatasetVersion
from mlsteward.data._report import data_report
from mlsteward.data._versions import compliance_tags, read_profile, resolve_dataset
from mlsteward.store import Store

__all__ = ["dataset_report"]


def dataset_report(
    store: Store,
    project: str,
    ref: str | DatasetVersion,
    *,
    format: Literal["html", "json"] = "html",
) -> str:
    """The report of a version: its metadata and compliance tags, its stored profile and
    the results of its latest stored check run (none when it was never checked)."""
    version = resolve_dataset(store, project, ref)
    meta = version.to_dict()
    meta["compliance_tags"] = [
        {"column": t.column, "tag": t.tag} for t in compliance_tags(store, version)
    ]
    profile = DatasetProfile.from_dict(read_profile(store, version))
    report = latest_check_report(store, project, version)
    checks = None if report is None else [r.to_dict() for r in report.results]
    if report is not None:
        meta["checked_at"] = report.created_at.isoformat()
        meta["check_reference"] = report.reference
    return data_report(meta, profile, checks, format=format)

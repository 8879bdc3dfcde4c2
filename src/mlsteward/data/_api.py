"""``st.datasets``: the data stage of the SDK, a thin object over the service functions."""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlsteward.data._checks import CheckSpec, check_dataset, check_reports
from mlsteward.data._impact import DEFAULT_LIMIT, dataset_impact
from mlsteward.data._impact_records import Impact
from mlsteward.data._lineage import MAX_DEPTH, Lineage, dataset_lineage
from mlsteward.data._records import CheckReport, ComplianceTag, DatasetVersion
from mlsteward.data._register import register_dataset
from mlsteward.data._split import SplitMethod, split_dataset
from mlsteward.data._versions import (
    LoadFormat,
    compliance_tags,
    list_datasets,
    load_dataset,
    read_profile,
    resolve_dataset,
)
from mlsteward.store import Store

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

__all__ = ["Datasets"]


class Datasets:
    """Dataset versions of one store: ``st.datasets.register(...)``, ``.get``, ``.check`` ...

    Every method takes the project first and a reference ``NAME@VERSION`` (full hash or
    a unique prefix of 8+ hex digits), ``NAME@latest``, or a :class:`DatasetVersion`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(
        self,
        project: str,
        name: str,
        data: object,
        *,
        role: str | None = None,
        source: str | None = None,
        license: str | None = None,
        consent: str | None = None,
        time_column: str | None = None,
        target: str | None = None,
        parents: Sequence[DatasetVersion | str] | None = None,
        column_types: Mapping[str, str] | None = None,
    ) -> DatasetVersion:
        """Register a DataFrame, Arrow table, CSV or Parquet file as an immutable version
        (see :func:`mlsteward.data.register_dataset`)."""
        return register_dataset(
            self.store,
            project,
            name,
            data,
            role=role,
            source=source,
            license=license,
            consent=consent,
            time_column=time_column,
            target=target,
            parents=parents,
            column_types=column_types,
        )

    def get(self, project: str, ref: str | DatasetVersion) -> DatasetVersion:
        """The version ``ref`` names (NotFound / InvalidInput say what is wrong)."""
        return resolve_dataset(self.store, project, ref)

    resolve = get

    def list(
        self, project: str, name: str | None = None, *, role: str | None = None
    ) -> list[DatasetVersion]:
        """Versions of a project (of one dataset, of one role), newest first."""
        return list_datasets(self.store, project, name, role=role)

    def load(
        self,
        project: str,
        ref: str | DatasetVersion,
        *,
        columns: builtins.list[str] | None = None,
        format: LoadFormat = "pandas",
    ) -> Any:
        """The data of a version as pandas (default), ``format="arrow"`` or ``"polars"``."""
        return load_dataset(self.store, project, ref, columns=columns, format=format)

    def check(
        self,
        project: str,
        ref: str | DatasetVersion,
        *,
        spec: CheckSpec | dict[str, Any] | str | Path | None = None,
        reference: str | DatasetVersion | None = None,
        coverage_groups: builtins.list[str] | None = None,
        now: datetime | None = None,
        save: bool = True,
    ) -> CheckReport:
        """Run quality and collection checks; results are stored with the version."""
        return check_dataset(
            self.store,
            project,
            ref,
            spec=spec,
            reference=reference,
            coverage_groups=coverage_groups,
            now=now,
            save=save,
        )

    def checks(self, project: str, ref: str | DatasetVersion) -> builtins.list[CheckReport]:
        """Stored check runs of a version, newest first."""
        return check_reports(self.store, project, ref)

    def split(
        self,
        project: str,
        ref: str | DatasetVersion,
        *,
        method: SplitMethod = "random",
        fractions: Mapping[str, float] | None = None,
        seed: int = 0,
        stratify: str | None = None,
        time_column: str | None = None,
        cutoffs: Sequence[Any] | None = None,
        parts: Sequence[str] | None = None,
        group_column: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, DatasetVersion]:
        """Split into child versions with lineage (see :func:`mlsteward.data.split_dataset`)."""
        return split_dataset(
            self.store,
            project,
            ref,
            method=method,
            fractions=fractions,
            seed=seed,
            stratify=stratify,
            time_column=time_column,
            cutoffs=cutoffs,
            parts=parts,
            group_column=group_column,
            names=names,
        )

    def lineage(self, project: str, ref: str | DatasetVersion, *, depth: int = 20) -> Lineage:
        """Parents and children of a version, recursively."""
        return dataset_lineage(self.store, project, ref, depth=depth)

    def impact(
        self,
        project: str | None,
        ref: str | DatasetVersion,
        *,
        depth: int = MAX_DEPTH,
        limit: int = DEFAULT_LIMIT,
    ) -> Impact:
        """Everything built on a version: derived versions, the runs that read them, the
        model versions made from them (state, aliases, endpoints serving them),
        evaluations and monitoring references, each with the path that reaches it
        (``project=None``: the store's only project). See docs/data.md, "Impact"."""
        return dataset_impact(self.store, project, ref, depth=depth, limit=limit)

    def profile(self, project: str, ref: str | DatasetVersion) -> Any:
        """The stored profile of a version (a ``DatasetProfile``)."""
        version = resolve_dataset(self.store, project, ref)
        document = read_profile(self.store, version)
        profile_module: Any = importlib.import_module("mlsteward.data._profile")
        return profile_module.DatasetProfile.from_dict(document)

    def tags(self, project: str, ref: str | DatasetVersion) -> builtins.list[ComplianceTag]:
        """Compliance tags of a version (e.g. personal data found by the checks)."""
        return compliance_tags(self.store, resolve_dataset(self.store, project, ref))

    def preprocessor(
        self, project: str, ref: str | DatasetVersion, *, exclude: Sequence[str] = ()
    ) -> ColumnTransformer:
        """A scikit-learn preprocessor for the features of a version (by logical type; the
        time column is left out, see :func:`mlsteward.data.build_preprocessor`)."""
        from mlsteward.data._prep import build_preprocessor  # scikit-learn loads slowly

        version = resolve_dataset(self.store, project, ref)
        skip = [*exclude, *([version.time_column] if version.time_column else [])]
        return build_preprocessor(version, exclude=skip)

    def report(
        self, project: str, ref: str | DatasetVersion, *, format: Literal["html", "json"] = "html"
    ) -> str:
        """The data report (profile, charts, latest check results): self-contained HTML, or
        JSON with ``format="json"``."""
        from mlsteward.data._render import dataset_report  # the charts load slowly

        return dataset_report(self.store, project, ref, format=format)

    def __repr__(self) -> str:
        return f"Datasets({self.store!r})"

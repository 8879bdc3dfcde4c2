"""Training-serving skew: the same entity's features, offline and as served.

Where the prediction log records an entity id (an input or log column such as ``id``)
that also identifies rows of an offline dataset (the training data, or any dataset
version holding the same entities' features as the feature pipeline computed them),
the two are joined on it and compared feature by feature: a number differs when it is
off by more than ``1e-6`` relative, a category when its key differs, a value when it is
missing on one side only. A feature skews when its mismatch share exceeds
``skew_mismatch_share`` (default 1 %).

The second check replays the matched offline rows through the model (the training-time
pipeline) and compares its scores with the logged ones (the serving-time pipeline on
the same entities): the share of rows whose predicted class or score differ shows
whether serving computes what training computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mlsteward.core import InvalidInput
from mlsteward.monitoring._summary import category_keys, numeric_values

__all__ = [
    "FeatureSkew",
    "OfflineRows",
    "PredictionSkew",
    "SkewReport",
    "training_serving_skew",
]


@dataclass(frozen=True)
class FeatureSkew:
    feature: str
    matched: int
    mismatched: int
    mean_abs_difference: float | None
    examples: tuple[tuple[str, str, str], ...]
    threshold: float

    @property
    def share(self) -> float:
        return self.mismatched / self.matched if self.matched else 0.0

    @property
    def skewed(self) -> bool:
        return self.share > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "mismatch_share": self.share,
            "mean_abs_difference": self.mean_abs_difference,
            "skewed": self.skewed,
            "threshold": self.threshold,
            "examples": [{"entity": e, "offline": o, "served": s} for e, o, s in self.examples],
        }


@dataclass(frozen=True)
class PredictionSkew:
    matched: int
    class_disagreement: float
    mean_abs_score_difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "class_disagreement": self.class_disagreement,
            "mean_abs_score_difference": self.mean_abs_score_difference,
        }


@dataclass(frozen=True)
class SkewReport:
    entity: str
    served_rows: int
    matched: int
    features: tuple[FeatureSkew, ...]
    prediction: PredictionSkew | None

    @property
    def skewed(self) -> tuple[FeatureSkew, ...]:
        return tuple(f for f in self.features if f.skewed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "served_rows": self.served_rows,
            "matched": self.matched,
            "features": [f.to_dict() for f in self.features],
            "skewed_features": [f.feature for f in self.skewed],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }


class OfflineRows:
    """Offline rows indexed by their entity id once (sorted keys), for many windows."""

    def __init__(self, table: pa.Table, entity: str) -> None:
        if entity not in table.column_names:
            raise InvalidInput(
                f"The offline rows have no entity column {entity!r}; their columns are "
                f"{', '.join(table.column_names[:30])}. Name the id both sides share."
            )
        self.table = table
        self.entity = entity
        keys = category_keys(table.column(entity)).astype(str)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    def match(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``ids``, rows of the table) of the ids found offline."""
        if self.keys.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        wanted = ids.astype(str)
        position = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        hit = (self.keys[position] == wanted) & pa.array(ids, pa.string()).is_valid().to_numpy(
            zero_copy_only=False
        )
        return np.flatnonzero(hit), self.order[position[hit]]


def training_serving_skew(
    served: pa.Table,
    offline: pa.Table | OfflineRows,
    *,
    entity: str,
    served_entity: str | None = None,
    features: Sequence[str],
    kinds: Mapping[str, str],
    threshold: float = 0.01,
    score: Callable[[pa.Table], np.ndarray] | None = None,
    served_scores: np.ndarray | None = None,
    decision_threshold: float = 0.5,
) -> SkewReport:
    """Compare served rows with offline rows of the same entities (see the module
    docstring). ``entity`` is the offline id column, ``served_entity`` the served one (the
    same name by default). ``score`` maps offline rows to positive-class scores (the model);
    ``served_scores`` are the logged scores of ``served``'s rows."""
    index = offline if isinstance(offline, OfflineRows) else OfflineRows(offline, entity)
    column = served_entity or entity
    if column not in served.column_names:
        raise InvalidInput(
            f"The served rows have no entity column {column!r}; their columns are "
            f"{', '.join(served.column_names[:30])}. Name the id both sides share."
        )
    served_ids = category_keys(served.column(column))
    served_rows, offline_rows = index.match(served_ids)
    table = index.table
    results = []
    matched = int(served_rows.size)
    for name in features:
        if name not in table.column_names or name not in served.column_names:
            continue
        left = table.column(name).take(pa.array(offline_rows))
        right = served.column(name).take(pa.array(served_rows))
        if kinds.get(name) == "numeric":
            a, _ = numeric_values(left)
            b, _ = numeric_values(right)
            both = ~np.isnan(a) & ~np.isnan(b)
            differs = (np.isnan(a) != np.isnan(b)) | (
                both & (np.abs(a - b) > 1e-6 * np.maximum(np.abs(a), 1.0))
            )
            mad = float(np.abs(a[both] - b[both]).mean()) if both.any() else None
            shown_a, shown_b = a.astype(object), b.astype(object)
        else:
            ka, kb = category_keys(left), category_keys(right)
            differs = ka != kb
            mad = None
            shown_a, shown_b = ka, kb
        bad = np.flatnonzero(differs)[:3]
        examples = tuple(
            (str(served_ids[served_rows[i]]), str(shown_a[i]), str(shown_b[i])) for i in bad
        )
        results.append(
            FeatureSkew(name, matched, int(np.count_nonzero(differs)), mad, examples, threshold)
        )
    prediction = None
    if score is not None and served_scores is not None and matched:
        replayed = np.asarray(score(table.take(pa.array(offline_rows))), dtype=np.float64)
        logged = np.asarray(served_scores, dtype=np.float64)[served_rows]
        finite = np.isfinite(logged)
        disagree = (
            float(
                np.mean(
                    (replayed[finite] >= decision_threshold)
                    != (logged[finite] >= decision_threshold)
                )
            )
            if finite.any()
            else math.nan
        )
        prediction = PredictionSkew(
            matched,
            disagree,
            float(np.abs(replayed[finite] - logged[finite]).mean()) if finite.any() else None,
        )
    return SkewReport(entity, served.num_rows, matched, tuple(results), prediction)

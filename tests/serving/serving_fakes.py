"""Models that misbehave on purpose (registered as trusted pickles in the serving tests)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class RaisingModel:
    """A classifier whose every prediction fails."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_

    def predict(self, data: Any) -> Any:
        raise RuntimeError("this challenger is broken on purpose")

    def predict_proba(self, data: Any) -> Any:
        raise RuntimeError("this challenger is broken on purpose")


class SlowModel:
    """A good classifier that takes ``delay`` seconds per call."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.classes_ = inner.classes_

    def predict(self, data: Any) -> Any:
        time.sleep(self.delay)
        return self.inner.predict(data)

    def predict_proba(self, data: Any) -> Any:
        time.sleep(self.delay)
        return self.inner.predict_proba(data)


class FlippedModel:
    """A classifier whose scores are the good model's upside down (a shifted output)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_

    def predict(self, data: Any) -> Any:
        return self.inner.classes_[np.argmax(self.predict_proba(data), axis=1)]

    def predict_proba(self, data: Any) -> Any:
        return np.asarray(self.inner.predict_proba(data))[:, ::-1]

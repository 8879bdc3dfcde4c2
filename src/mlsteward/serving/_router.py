"""Traffic routing: which model version answers a request.

The seam is one method, :meth:`Router.choose`. The server builds a router for each
endpoint from its live routes whenever they change (a router is immutable; a new one
replaces it), and asks it once per request. Shadow routes are not the router's business:
the server copies requests to them after answering.

Contract of :meth:`Router.choose`:

- it returns one of the keys (``name@version``) of :attr:`Router.keys`, never another;
- it is called on the server's event loop for every request: no I/O, no blocking, a few
  microseconds at most;
- with ``key`` (a sticky routing key, such as a user id, from the ``X-Route-Key``
  header) the same key gets the same version for as long as the weights do not change.

:class:`WeightedRouter` draws versions with probabilities proportional to their weights
from a seeded random generator (reproducible in tests), or from a hash of the sticky key.
:class:`FixedRouter` is the in-memory fake for tests: it answers from a fixed key or a
scripted sequence.
"""

from __future__ import annotations

import abc
import bisect
import itertools
import random
import zlib
from collections.abc import Iterable, Mapping

from mlsteward.core import InvalidInput

__all__ = ["FixedRouter", "Router", "WeightedRouter"]


class Router(abc.ABC):
    """Chooses the model version of an endpoint that answers a request (see the module
    docstring for the contract)."""

    @property
    @abc.abstractmethod
    def keys(self) -> tuple[str, ...]:
        """The versions this router may choose."""

    @abc.abstractmethod
    def choose(self, key: str | None = None) -> str:
        """The version (``name@version``) that answers a request with routing ``key``."""


class WeightedRouter(Router):
    """Weighted random choice among versions; sticky by a hash of the key when given.

    >>> router = WeightedRouter({"acs@1": 95, "acs@2": 5}, seed=1)
    >>> router.choose("user-42") == router.choose("user-42")
    True
    >>> WeightedRouter({"acs@1": 100, "acs@2": 0}).choose()
    'acs@1'
    """

    def __init__(self, weights: Mapping[str, float], *, seed: int | None = None) -> None:
        live = [(k, float(w)) for k, w in weights.items() if float(w) > 0]
        if not live:
            raise InvalidInput(
                f"A router needs at least one version with a weight > 0, got {dict(weights)}."
            )
        total = sum(w for _, w in live)
        self._keys = tuple(k for k, _ in live)
        self._cumulative = list(itertools.accumulate(w / total for _, w in live))
        self._cumulative[-1] = 1.0
        self._random = random.Random(seed).random
        self.weights = {k: w for k, w in live}

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def choose(self, key: str | None = None) -> str:
        if len(self._keys) == 1:
            return self._keys[0]
        point = self._random() if key is None else zlib.crc32(key.encode()) / 4294967296.0
        return self._keys[bisect.bisect_right(self._cumulative, point)]

    def __repr__(self) -> str:
        return f"WeightedRouter({self.weights})"


class FixedRouter(Router):
    """The in-memory fake: always ``key``, or the keys of ``sequence`` in turn (cycling).

    >>> FixedRouter("acs@2").choose()
    'acs@2'
    >>> router = FixedRouter(sequence=["acs@1", "acs@2"])
    >>> [router.choose() for _ in range(3)]
    ['acs@1', 'acs@2', 'acs@1']
    """

    def __init__(self, key: str | None = None, *, sequence: Iterable[str] | None = None) -> None:
        items = [key] if key is not None else list(sequence or [])
        if not items:
            raise InvalidInput("A FixedRouter needs a key or a non-empty sequence of keys.")
        self._keys = tuple(dict.fromkeys(items))
        self._cycle = itertools.cycle(items)
        self.calls: list[str | None] = []

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def choose(self, key: str | None = None) -> str:
        self.calls.append(key)
        return next(self._cycle)

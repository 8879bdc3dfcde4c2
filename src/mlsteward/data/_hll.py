"""Distinct counts: a portable 64-bit value hash and a HyperLogLog sketch.

The hash is defined here, on the *values* (never on Python's ``hash()``, which is salted per
process), so that registers computed on different machines, processes or Steward versions
can be merged:

- numbers (integers, floats, booleans, and category codes) hash the IEEE-754 bits of their
  float64 value, with ``-0.0`` folded onto ``0.0`` (so ``1``, ``1.0`` and ``True`` are one
  value; integers above 2**53 that round to the same float are one value);
- strings hash their UTF-8 bytes: a sum of byte values times position weights modulo 2**64
  (vectorised with :func:`numpy.add.reduceat`), mixed with the length, then finalised with
  the SplitMix64 mixer so every output bit depends on every input byte.

:class:`HyperLogLog` keeps ``2**p`` registers (``p = 14`` by default: 16 KiB) and estimates
with Ertl's improved estimator (O. Ertl, "New cardinality estimation algorithms for
HyperLogLog sketches", 2017), which is unbiased from 0 to beyond 10**18 without bias
tables. Its relative standard error is ``1.04 / sqrt(2**p)`` (0.81 % at ``p = 14``);
estimates are within 3 standard errors (2.4 %) in 99.7 % of cases. Merging takes the
register-wise maximum, so ``hll(A).merge(hll(B))`` is *identical* to ``hll(A + B)``.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput

__all__ = ["DEFAULT_PRECISION", "HyperLogLog", "hash_array", "hash_floats", "mix64"]

DEFAULT_PRECISION: Final = 14
_HASH_BITS: Final = 64
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)
_STRING_SEED: Final = np.uint64(0x5354455741524421)  # "STEWARD!"

U64 = npt.NDArray[np.uint64]


def mix64(values: U64) -> U64:
    """SplitMix64's finaliser applied element-wise (wrapping uint64 arithmetic)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: U64 = z ^ (z >> np.uint64(31))
    return out


def hash_floats(values: npt.NDArray[np.float64]) -> U64:
    """Hash float64 values (no NaN expected; ``-0.0`` hashes as ``0.0``)."""
    normalised = np.ascontiguousarray(values, dtype=np.float64) + 0.0
    return mix64(normalised.view(np.uint64))


_weights_cache: U64 = mix64(np.arange(256, dtype=np.uint64) ^ _STRING_SEED)


def _position_weights(length: int) -> U64:
    """Weights of byte positions 0..length-1 (a cached table; every table is a prefix of
    any larger one, so threads racing to grow it stay correct)."""
    global _weights_cache
    weights = _weights_cache
    if length > len(weights):
        size = 1 << max(8, (length - 1).bit_length())
        weights = mix64(np.arange(size, dtype=np.uint64) ^ _STRING_SEED)
        _weights_cache = weights
    return weights[:length]


def _hash_strings(array: pa.Array) -> U64:
    """Hash a string/binary array without nulls, vectorised over its Arrow buffers."""
    if not (pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)):
        target = pa.large_binary() if pa.types.is_binary(array.type) else pa.large_string()
        array = array.cast(target)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    start, stop = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)[start:stop]
        if buffers[2] is not None
        else np.zeros(0, dtype=np.uint8)
    )
    lengths = np.diff(offsets)
    local = offsets[:-1] - start
    sums = np.zeros(n, dtype=np.uint64)
    if len(data):
        # position of each byte inside its own string
        position = np.arange(len(data), dtype=np.int64) - np.repeat(local, lengths)
        terms = (data.astype(np.uint64) + np.uint64(1)) * _position_weights(int(lengths.max()))[
            position
        ]
        nonempty = lengths > 0
        sums[nonempty] = np.add.reduceat(terms, local[nonempty])
    return mix64(sums ^ mix64(lengths.astype(np.uint64) ^ _STRING_SEED))


def hash_array(array: pa.Array) -> U64:
    """64-bit hashes of the non-null values of an Arrow array (see the module docstring).

    Floats that are NaN are skipped like nulls. Strings and binary hash their bytes; every
    other type hashes its float64 value (temporal types their integer ticks).
    """
    if array.null_count:
        array = array.drop_null()
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return _hash_strings(array)
    if pa.types.is_temporal(kind):
        array = array.view(pa.int64()) if kind.bit_width == 64 else array.cast(pa.int64())
    elif pa.types.is_decimal(kind) or pa.types.is_boolean(kind):
        array = pc.cast(array, pa.float64())
    values = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return hash_floats(values[~np.isnan(values)])


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


@dataclass(frozen=True, eq=False)
class HyperLogLog:
    """A HyperLogLog sketch of ``2**precision`` registers (see the module docstring).

    Instances are immutable: :meth:`add_hashes` and :meth:`merge` return new sketches.
    """

    precision: int
    registers: npt.NDArray[np.uint8]

    @classmethod
    def empty(cls, precision: int = DEFAULT_PRECISION) -> HyperLogLog:
        if not 4 <= precision <= 18:
            raise InvalidInput(
                f"HyperLogLog precision must be in [4, 18], got {precision}. "
                "14 (16 KiB, 0.81 % standard error) is the default."
            )
        return cls(precision, np.zeros(1 << precision, dtype=np.uint8))

    @property
    def relative_standard_error(self) -> float:
        """``1.04 / sqrt(2**precision)``: one standard error of :meth:`estimate`, relative."""
        return 1.04 / math.sqrt(1 << self.precision)

    def add_hashes(self, hashes: U64) -> HyperLogLog:
        """A new sketch that also counts the values with these 64-bit hashes."""
        if len(hashes) == 0:
            return self
        p = self.precision
        q = _HASH_BITS - p
        index = (hashes >> np.uint64(q)).astype(np.intp)
        rest = (hashes & np.uint64((1 << q) - 1)).astype(np.float64)  # exact: < 2**53
        _, bit_length = np.frexp(rest)  # 0 for 0, else position of the highest set bit
        rank = (q + 1 - bit_length).astype(np.uint8)
        registers = self.registers.copy()
        np.maximum.at(registers, index, rank)
        return HyperLogLog(p, registers)

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        """The sketch of the union of both inputs (identical to sketching the union)."""
        if other.precision != self.precision:
            raise InvalidInput(
                f"Cannot merge HyperLogLog sketches of precision {self.precision} and "
                f"{other.precision}; profile both inputs with the same precision."
            )
        return HyperLogLog(self.precision, np.maximum(self.registers, other.registers))

    def estimate(self) -> float:
        """Estimated number of distinct values (Ertl's improved estimator)."""
        m = 1 << self.precision
        q = _HASH_BITS - self.precision
        counts = np.bincount(self.registers, minlength=q + 2).astype(np.float64)
        z = m * _tau(1.0 - counts[q + 1] / m)
        for k in range(q, 0, -1):  # over register values (at most 60), not over rows
            z = 0.5 * (z + counts[k])
        z += m * _sigma(counts[0] / m)
        if math.isinf(z):
            return 0.0
        return m * m / (2.0 * math.log(2.0)) / z

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        return self.precision == other.precision and bool(
            np.array_equal(self.registers, other.registers)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value object

    def to_dict(self) -> dict[str, Any]:
        packed = zlib.compress(self.registers.tobytes(), 6)
        return {"precision": self.precision, "registers": base64.b64encode(packed).decode()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HyperLogLog:
        precision = int(data["precision"])
        raw = zlib.decompress(base64.b64decode(data["registers"]))
        registers = np.frombuffer(raw, dtype=np.uint8).copy()
        if len(registers) != 1 << precision:
            raise InvalidInput(
                f"A stored HyperLogLog sketch has {len(registers)} registers, expected "
                f"{1 << precision} for precision {precision}; the profile is corrupt."
            )
        return cls(precision, registers)

"""Sticky, deterministic A/B (and multi-arm) assignment of request or user ids.

A unit (a user, a request, a session) is routed by a keyed 64-bit hash of its id, salted by
the test id, mapped to a number ``u`` in ``[0, 1)``; the unit sees variant B iff
``u < share_b``. The same id always gets the same ``u`` for a test, in every process, on every
machine and in any language that follows the algorithm below: Python's built-in ``hash()`` is
salted per process (``PYTHONHASHSEED``), which is why it must never route traffic (the seed 003
bug: the same user flipped between variants whenever a worker restarted).

Properties, each by construction and checked in ``tests/test_router.py``:

* **sticky**: ``u`` depends only on ``(test_id, unit_id)``;
* **monotone ramp-up**: a unit in B at 10 % is in B at 25 % and 50 %, because its ``u`` does not
  change and ``u < 0.10`` implies ``u < 0.25`` (and units leave B in reverse order on a ramp-down);
* **independent across tests**: each test has its own salt, so the assignments of two tests are
  uncorrelated (no user is in B of every test);
* **uniform**: ``u`` is uniform on ``[0, 1)`` to within the 2**-53 grid.

The algorithm (the contract; a reimplementation must give bit-identical ``u``)
------------------------------------------------------------------------------
All arithmetic is on unsigned 64-bit integers, modulo 2**64; ``>>`` is a logical shift::

    salt = uint64_le(BLAKE2b(utf8(test_id), digest_size=8))   # unkeyed BLAKE2b with an 8-byte digest
    data = utf8(unit_id)          # an integer id is hashed as its decimal string: 42 -> "42", -7 -> "-7"
    h = salt
    for each 8-byte chunk of data, in order (the last one zero-padded), w = uint64_le(chunk):
        h = (h ^ w) * 0x9E3779B97F4A7C15
        h = h ^ (h >> 32)
    h = h ^ len(data)             # the byte length, so that "a" and "a\\0" differ
    h = h ^ (h >> 30); h = h * 0xBF58476D1CE4E5B9      # the SplitMix64 finalizer
    h = h ^ (h >> 27); h = h * 0x94D049BB133111EB
    h = h ^ (h >> 31)
    u = (h >> 11) * 2**-53        # the top 53 bits: an exact double in [0, 1)
    variant = "B" if u < share_b else "A"

``uint64_le(b)`` reads 8 bytes as a little-endian unsigned integer. ``0x9E3779B97F4A7C15`` is
2**64 divided by the golden ratio (Knuth's multiplicative hashing); each chunk step is a
bijection of ``h``, so ids of one length that differ in one chunk never collide. The finalizer
is SplitMix64's (Stafford's "Mix13"), a full-avalanche bijection. Integers are hashed as their
decimal strings so that ``42`` from an integer column and ``"42"`` from a log line or a URL land
in the same bucket; booleans and floats are refused (is ``True`` the id ``"True"`` or ``1``?).

Multi-arm tests (:func:`arm`) lay the arms on ``[0, 1)`` from the bottom, last arm first: with
weights ``w_0 .. w_{k-1}`` (summing to 1), arm ``i`` holds ``S_{i+1} <= u < S_i`` where
``S_i = w_i + ... + w_{k-1}``. The last arm is ``u < w_{k-1}``, so ``arm(t, x, [1 - s, s])``
equals ``assign(t, x, s)`` (arm 1 is B) and the last arm keeps every unit while it grows,
however the other arms are re-split. A middle arm keeps its units only if its interval does
not move: to grow the last arm without moving anyone else, take the weight from the arm just
before it (only units of that arm then move, into the last arm).

Speed (the bench area ``router``; 2 shared CPUs): one :func:`assign` of a 36-character id
takes about 1.8-1.9 µs in pure Python (a C ``hashlib.blake2b`` call alone is ~0.8 µs, but cannot
be vectorized); :func:`assign_many` reaches about 20-25 million assignments per second on an
Arrow or polars column of uuid4 strings (rows of one byte length are read as strided 8-byte
words of the Arrow buffer; other columns gather word ``j`` of every row, one numpy pass per word
position, not per row) and about 11 million per second on a numpy ``int64`` column (Arrow's
decimal cast first). A Python list is converted to Arrow first (about 50 ns per id).

References
----------
* G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators",
  OOPSLA 2014 (SplitMix64); D. Stafford, "Better bit mixing" (2011), variant 13.
* D. E. Knuth, *The Art of Computer Programming*, vol. 3, 6.4 (multiplicative hashing).
* R. Kohavi, D. Tang, Y. Xu, *Trustworthy Online Controlled Experiments* (2020), ch. 4 and 14:
  randomize with a hash of the experiment id and the unit id, never a per-process seed.

Examples
--------
>>> from mlmm.ab.router import Router, assign, bucket
>>> bucket("exp-1", "user-42")
0.31512635831690317
>>> assign("exp-1", "user-42", 0.10), assign("exp-1", "user-42", 0.50)
('A', 'B')
>>> bucket("exp-1", 42) == bucket("exp-1", "42")
True
>>> router = Router("checkout-v2", share_b=0.25)
>>> router.assign_many(["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"]).tolist()
['A', 'A', 'A', 'A', 'A', 'B']
>>> router.with_share(0.60).assign_many(["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"]).tolist()
['A', 'A', 'B', 'A', 'A', 'B']
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ValidationError
from ._columns import arrow_of, hash_array, id_text

__all__ = [
    "Router",
    "arm",
    "arm_many",
    "assign",
    "assign_many",
    "bucket",
    "buckets",
    "salt",
]


_SALTS: dict[str, int] = {}
_MAX_SALTS = 4096


# ============================================================================ scalar core
def salt(test_id: str) -> int:
    """The 64-bit salt of a test: the little-endian value of ``BLAKE2b(test_id, digest_size=8)``.

    Cached per test id (at most 4096 ids are kept).

    >>> hex(salt("exp-1"))
    '0xaa384dea9e6aa3a1'
    >>> salt("exp-1") == int.from_bytes(hashlib.blake2b(b"exp-1", digest_size=8).digest(), "little")
    True
    """
    try:
        return _SALTS[test_id]
    except (KeyError, TypeError):
        pass
    if not isinstance(test_id, str) or not test_id:
        raise ValidationError(f"test_id={test_id!r}: expected a non-empty string")
    try:
        data = test_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"test_id={test_id!r}: expected text that encodes as UTF-8 ({exc.reason})") from None
    value = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    if len(_SALTS) >= _MAX_SALTS:
        _SALTS.clear()
    _SALTS[str(test_id)] = value
    return value


def _unpacker(n: int) -> tuple[Callable[[bytes], tuple[int, ...]], bytes]:
    """How to read ``n`` bytes as zero-padded little-endian 64-bit words: an unpack and a pad.

    A trailing chunk of 1, 2 or 4 bytes is read as B/H/I: its value equals the zero-padded
    word's, and no padding copy is needed (36-character uuids end in a 4-byte chunk).
    """
    k, r = divmod(n, 8)
    tail = {0: "", 1: "B", 2: "H", 4: "I"}.get(r)
    if tail is None:
        return struct.Struct(f"<{k + 1}Q").unpack, b"\0" * (8 - r)
    return struct.Struct(f"<{k}Q{tail}").unpack, b""


_UNPACKERS = [_unpacker(n) for n in range(257)]


def _u(salt_: int, unit_id: Any) -> float:
    """The bucket ``u`` of one id under a salt (the algorithm of the module docstring)."""
    text = unit_id if type(unit_id) is str else id_text(unit_id)
    try:
        data = text.encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(f"unit_id={text!r}: expected text that encodes as UTF-8 ({exc.reason})") from None
    n = len(data)
    unpack, pad = _UNPACKERS[n] if n < 257 else _unpacker(n)
    h = salt_
    for w in unpack(data + pad) if pad else unpack(data):
        h = ((h ^ w) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 32
    h ^= n
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((h ^ (h >> 31)) >> 11) * 1.1102230246251565e-16  # 2**-53


def _share(share_b: Any, name: str = "share_b") -> float:
    if isinstance(share_b, (int, float, np.integer, np.floating)) and not isinstance(share_b, (bool, np.bool_)):
        value = float(share_b)
        if 0.0 <= value <= 1.0:
            return value
    raise ValidationError(f"{name}={share_b!r}: expected a number in [0, 1]")


def bucket(test_id: str, unit_id: str | int) -> float:
    """The bucket ``u`` in ``[0, 1)`` of one id in a test (see the module docstring).

    Parameters
    ----------
    test_id : str
        The test (experiment) the assignment is for; its salt keeps tests independent.
    unit_id : str or int
        The user, request or session id. An integer is hashed as its decimal string.

    Returns
    -------
    float
        ``u``, a multiple of 2**-53 in ``[0, 1)``. The unit is in B iff ``u < share_b``.

    Raises
    ------
    ValidationError
        ``test_id`` is not a non-empty string, or ``unit_id`` not a string or an integer.

    Examples
    --------
    >>> bucket("exp-1", "user-42")
    0.31512635831690317
    >>> bucket("exp-2", "user-42")  # another test, another salt
    0.6221958997247675
    >>> bucket("exp-1", "a"), bucket("exp-1", "a\\0")  # the length counts
    (0.7275796549653242, 0.9686720366847155)
    """
    try:
        salt_ = _SALTS[test_id]
    except (KeyError, TypeError):
        salt_ = salt(test_id)
    return _u(salt_, unit_id)


def assign(test_id: str, unit_id: str | int, share_b: float) -> str:
    """``"B"`` if the id's bucket is below ``share_b``, else ``"A"``: sticky and monotone in ``share_b``.

    Parameters
    ----------
    test_id : str
        The test; ``unit_id`` : str or int, the unit (an integer counts as its decimal string).
    unit_id : str or int
        The user, request or session id.
    share_b : float
        The share of traffic for B, in ``[0, 1]`` (0: nobody, 1: everybody).

    Raises
    ------
    ValidationError
        ``share_b`` outside ``[0, 1]`` (or not a number), or a bad ``test_id`` / ``unit_id``.

    Examples
    --------
    >>> [assign("exp-1", "user-42", s) for s in (0.10, 0.25, 0.315, 0.316, 0.50)]
    ['A', 'A', 'A', 'B', 'B']
    >>> assign("exp-1", "user-42", 1.5)
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: share_b=1.5: expected a number in [0, 1]
    """
    if type(share_b) is not float or not 0.0 <= share_b <= 1.0:
        share_b = _share(share_b)
    try:
        salt_ = _SALTS[test_id]
    except (KeyError, TypeError):
        salt_ = salt(test_id)
    return "B" if _u(salt_, unit_id) < share_b else "A"


# ============================================================================ multi-arm
def _bounds(weights: Any) -> np.ndarray:
    """Suffix sums ``S_1 .. S_{k-1}`` of validated weights, ascending (``S_{k-1}`` first)."""
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        raise ValidationError(f"weights={weights!r}: expected a sequence of numbers summing to 1") from None
    if isinstance(weights, (str, bytes)) or any(isinstance(x, (bool, np.bool_)) for x in weights):
        raise ValidationError(f"weights={weights!r}: expected a sequence of numbers summing to 1")
    if not w:
        raise ValidationError("weights=[]: expected at least one arm")
    bad = [x for x in w if not (math.isfinite(x) and x >= 0.0)]
    if bad:
        raise ValidationError(f"weights={weights!r}: expected weights >= 0, got {bad[0]!r}")
    total = math.fsum(w)
    if abs(total - 1.0) > 1e-9:
        raise ValidationError(f"weights={weights!r}: expected weights summing to 1 (they sum to {total!r})")
    suffix, acc = [], 0.0
    for x in reversed(w[1:]):
        acc += x
        suffix.append(acc)
    return np.asarray(suffix, dtype=np.float64)


def _arm_of(u: np.ndarray | float, bounds: np.ndarray) -> np.ndarray:
    # arm = number of i in 1..k-1 with u < S_i = (k-1) - #{S_i <= u}
    return len(bounds) - np.searchsorted(bounds, u, side="right")


def arm(test_id: str, unit_id: str | int, weights: Sequence[float]) -> int:
    """The arm (0-based index) of one id in a test with ``len(weights)`` arms.

    Arm ``i`` holds the ids with ``S_{i+1} <= u < S_i``, ``S_i = weights[i] + ... + weights[-1]``:
    the last arm is ``u < weights[-1]``, so a two-arm ``arm(t, x, [1 - s, s])`` is
    ``assign(t, x, s)`` with arm 1 = B, and the last arm keeps all its units as it grows
    (see the module docstring for what holds for the other arms).

    Parameters
    ----------
    test_id : str
        The test.
    unit_id : str or int
        The unit (an integer counts as its decimal string).
    weights : sequence of float
        The share of each arm, each >= 0, summing to 1 (within 1e-9).

    Raises
    ------
    ValidationError
        Weights negative, not finite, empty, or not summing to 1.

    Examples
    --------
    >>> arm("exp-1", "user-42", [0.5, 0.5]), assign("exp-1", "user-42", 0.5)
    (1, 'B')
    >>> [arm("exp-1", "user-42", [0.8 - s, 0.2, s]) for s in (0.05, 0.25, 0.5)]  # canary last, growing
    [0, 1, 2]
    """
    bounds = _bounds(weights)
    return int(_arm_of(bucket(test_id, unit_id), bounds))


def arm_many(test_id: str, ids: Any, weights: Sequence[float]) -> np.ndarray:
    """The arm of each id (vectorized :func:`arm`), as an ``int64`` array.

    >>> arm_many("exp-1", ["user-1", "user-2", "user-3", "user-42"], [0.25, 0.25, 0.5]).tolist()
    [1, 1, 1, 2]
    """
    bounds = _bounds(weights)
    return _arm_of(buckets(test_id, ids), bounds).astype(np.int64)


# ============================================================================ vectorized (kernels in _columns)
def buckets(test_id: str, ids: Any) -> np.ndarray:
    """The bucket ``u`` of every id (vectorized :func:`bucket`; bit-identical to it).

    Parameters
    ----------
    test_id : str
        The test.
    ids : list, tuple, numpy array, polars Series, pyarrow Array or ChunkedArray
        Strings or integers (an integer counts as its decimal string), no nulls. Arrow and
        polars string columns are read without conversion; a Python list is converted to
        Arrow first (about 50 ns per id).

    Returns
    -------
    numpy.ndarray
        ``float64``, one ``u`` per id; ``buckets(t, ids) < share_b`` is the boolean "in B" mask.

    Raises
    ------
    ValidationError
        A null, a float or boolean id, or an input that is not a 1-D collection of ids.

    Examples
    --------
    >>> buckets("exp-1", ["user-42", "42", 42])
    array([0.31512636, 0.92668265, 0.92668265])
    >>> import numpy as np
    >>> bool((buckets("exp-1", np.arange(1000)) == [bucket("exp-1", i) for i in range(1000)]).all())
    True
    """
    try:
        salt_ = _SALTS[test_id]
    except (KeyError, TypeError):
        salt_ = salt(test_id)
    return hash_array(salt_, arrow_of(ids))


def assign_many(test_id: str, ids: Any, share_b: float) -> np.ndarray:
    """``"A"`` / ``"B"`` for every id (vectorized :func:`assign`), as a numpy array of ``<U1``.

    For a boolean mask use ``buckets(test_id, ids) < share_b``.

    Examples
    --------
    >>> assign_many("exp-1", ["user-1", "user-2", "user-3", "user-42"], 0.5)
    array(['A', 'A', 'A', 'B'], dtype='<U1')
    """
    share = _share(share_b)
    return np.where(buckets(test_id, ids) < share, "B", "A")


# ============================================================================ Router
@dataclasses.dataclass(frozen=True)
class Router:
    """The router of one test at one split: ``Router("exp-1", share_b=0.1)``.

    Ramping up is ``router.with_share(0.25)``: a new router for the same test, under which
    every unit that was in B stays in B.

    Parameters
    ----------
    test_id : str
        The test (its salt is computed once, here).
    share_b : float
        The share of traffic for B, in ``[0, 1]``.

    Examples
    --------
    >>> r = Router("exp-1", share_b=0.1)
    >>> r
    Router(test_id='exp-1', share_b=0.1)
    >>> r.assign("user-42"), r.with_share(0.5).assign("user-42")
    ('A', 'B')
    >>> r.to_dict()
    {'test_id': 'exp-1', 'share_b': 0.1}
    >>> Router("exp-1", share_b=-0.1)
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: share_b=-0.1: expected a number in [0, 1]
    """

    test_id: str
    share_b: float
    _salt: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "share_b", _share(self.share_b))
        object.__setattr__(self, "_salt", salt(self.test_id))

    def bucket(self, unit_id: str | int) -> float:
        """``u`` of one id (see :func:`bucket`)."""
        return _u(self._salt, unit_id)

    def buckets(self, ids: Any) -> np.ndarray:
        """``u`` of every id (see :func:`buckets`)."""
        return hash_array(self._salt, arrow_of(ids))

    def assign(self, unit_id: str | int) -> str:
        """``"A"`` or ``"B"`` for one id."""
        return "B" if _u(self._salt, unit_id) < self.share_b else "A"

    def assign_many(self, ids: Any) -> np.ndarray:
        """``"A"`` / ``"B"`` for every id, as a numpy array of ``<U1``."""
        return np.where(self.buckets(ids) < self.share_b, "B", "A")

    def with_share(self, share_b: float) -> Router:
        """The same test at another split (monotone: B only grows when ``share_b`` does)."""
        return Router(self.test_id, share_b)

    def to_dict(self) -> dict[str, Any]:
        return {"test_id": self.test_id, "share_b": self.share_b}

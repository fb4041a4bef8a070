"""The vectorized kernels of :mod:`mlmm.ab.router`: the router's hash on whole Arrow columns.

Internal to ``mlmm.ab``: :func:`hash_array` computes, for every id of an Arrow array, the
bucket ``u`` of the algorithm in :mod:`mlmm.ab.router`'s docstring, bit-identical to the
scalar path, one numpy pass per 8-byte word position (not per row).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["FIN1", "FIN2", "MASK64", "MASKS", "TO_UNIT", "WORD", "arrow_of", "as_strings", "fixed_width_words",
           "hash_array", "hash_strings", "id_text", "mix_word", "ragged_words"]

MASK64 = (1 << 64) - 1
WORD = 0x9E3779B97F4A7C15
FIN1 = 0xBF58476D1CE4E5B9
FIN2 = 0x94D049BB133111EB
TO_UNIT = 2.0**-53  # (h >> 11) * 2**-53 is exact: a 53-bit integer times a power of two
MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [MASK64], dtype=np.uint64)


def id_text(unit_id: Any, where: str = "") -> str:
    """The text hashed for an id: a str as is, an integer as its decimal string."""
    if isinstance(unit_id, str):
        return unit_id
    if not isinstance(unit_id, (bool, np.bool_)):
        try:
            return str(operator.index(unit_id))
        except TypeError:
            pass
    raise ValidationError(f"unit_id={unit_id!r}{where}: expected a string or an integer")



def arrow_of(ids: Any) -> Any:
    """``ids`` as a pyarrow Array / ChunkedArray (strings, integers or dictionary), without copying columns."""
    import pyarrow as pa

    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        return ids
    if type(ids).__module__.split(".")[0] == "polars" and hasattr(ids, "to_arrow"):
        return ids.to_arrow()
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ValidationError(f"ids has shape {ids.shape}: expected a 1-D array of ids")
        if ids.dtype.kind in "iuU":
            return pa.array(ids)
        if ids.dtype.kind != "O":
            raise ValidationError(f"ids has dtype {ids.dtype}: expected strings or integers")
    elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ValidationError(f"ids={ids!r}: expected a sequence, array or column of ids")
    if not isinstance(ids, (list, tuple, np.ndarray)) and not hasattr(ids, "__arrow_array__"):
        ids = list(ids)
    try:
        arr = pa.array(ids)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        # mixed str / int, integers beyond 64 bits, or something that is no id: row by row
        return pa.array([id_text(x, f" in row {i}") for i, x in enumerate(ids)], type=pa.large_string())
    if pa.types.is_null(arr.type) and len(arr) == 0:
        return pa.array([], type=pa.string())
    return arr


def as_strings(arr: Any) -> Any:
    """An Array of ids as a non-null ``string`` / ``large_string`` Array (integers as decimals)."""
    import pyarrow as pa

    if arr.null_count:
        row = int(np.flatnonzero(np.asarray(arr.is_null()))[0])
        raise ValidationError(f"unit_id=None in row {row}: expected a string or an integer (no nulls)")
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr
    if pa.types.is_integer(t) or pa.types.is_string_view(t):
        return arr.cast(pa.large_string() if pa.types.is_string_view(t) else pa.string())
    raise ValidationError(f"ids of type {t}: expected strings or integers")


def mix_word(h: np.ndarray, w: np.ndarray, tmp: np.ndarray) -> None:
    """One chunk step on whole columns, in place: ``h = (h ^ w) * C; h ^= h >> 32``."""
    np.bitwise_xor(h, w, out=h)
    np.multiply(h, np.uint64(WORD), out=h)
    np.right_shift(h, np.uint64(32), out=tmp)
    np.bitwise_xor(h, tmp, out=h)


def fixed_width_words(h: np.ndarray, data: Any, first: int, width: int, tmp: np.ndarray) -> None:
    """Mix the words of ``n`` rows of ``width`` bytes each, stored back to back from byte ``first``.

    Word ``j`` of every row is a strided (unaligned) uint64 view of the Arrow buffer, no gather
    and no copy: uuids, hex digests and zero-padded ids take this path.
    """
    n, size = len(h), data.size
    for j in range(0, width, 8):
        left = width - j
        if left >= 8:  # inside every row
            mix_word(h, np.ndarray((n,), dtype="<u8", buffer=data, offset=first + j, strides=(width,)), tmp)
            continue
        # the last, partial word reads into the next row (masked off); rows whose 8 bytes would
        # pass the end of the buffer are read from a small zero-padded copy
        fit = min(n, max(0, (size - first - j - 8) // width + 1))
        w = np.empty(n, dtype=np.uint64)
        if fit:
            w[:fit] = np.ndarray((fit,), dtype="<u8", buffer=data, offset=first + j, strides=(width,))
        if fit < n:
            lo = first + fit * width + j
            tail = np.zeros((n - fit) * width + 8, dtype=np.uint8)
            raw = np.frombuffer(data, dtype=np.uint8, count=size - lo, offset=lo)
            tail[: raw.size] = raw[: tail.size]
            w[fit:] = np.ndarray((n - fit,), dtype="<u8", buffer=tail, strides=(width,))
        w &= MASKS[left]
        mix_word(h, w, tmp)


def ragged_words(h: np.ndarray, data: Any, offsets: np.ndarray, lens: np.ndarray, tmp: np.ndarray) -> None:
    """Mix the words of rows of any lengths: gather word ``j`` of every row, per ``j``.

    Rows shorter than ``j`` keep their ``h``: a masked update while most rows go on, a subset
    of the rows once few do (a column of short ids with one long one stays cheap).
    """
    first, last = int(offsets[0]), int(offsets[-1])
    minlen, maxlen = int(lens.min()), int(lens.max())
    # the rows' bytes, zero-padded so that every 8-byte read at any j < maxlen stays inside
    padded = np.zeros(last - first + maxlen + 8, dtype=np.uint8)
    if last > first:
        padded[: last - first] = np.frombuffer(data, dtype=np.uint8, count=last - first, offset=first)
    # words[p] is the little-endian uint64 at byte p (unaligned, overlapping views of one buffer)
    words = np.ndarray(shape=(padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    starts = offsets[:-1] - first
    longer = len(lens) - np.cumsum(np.bincount(lens))  # longer[j]: rows with more than j bytes
    shift32, mult = np.uint64(32), np.uint64(WORD)
    for j in range(0, maxlen, 8):
        if minlen > j:  # every row goes on
            w = words[starts + j]
            if minlen < j + 8:
                w &= MASKS[np.minimum(lens - j, 8)]
            mix_word(h, w, tmp)
        elif 4 * longer[j] >= len(lens):  # most rows go on: whole columns, masked update
            w = words[starts + j]
            w &= MASKS[np.clip(lens - j, 0, 8)]
            x = h ^ w
            x *= mult
            np.right_shift(x, shift32, out=tmp)
            x ^= tmp
            np.copyto(h, x, where=lens > j)
        else:  # few rows go on
            rows = np.flatnonzero(lens > j)
            w = words[starts[rows] + j] & MASKS[np.minimum(lens[rows] - j, 8)]
            x = (h[rows] ^ w) * mult
            h[rows] = x ^ (x >> shift32)


def hash_strings(salt_: int, arr: Any) -> np.ndarray:
    """``u`` for every row of a non-null string Array: the algorithm, one pass per 8-byte word position."""
    import pyarrow as pa

    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    odt = np.dtype(np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    _, off_buf, data = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=odt, count=n + 1, offset=arr.offset * odt.itemsize).astype(np.int64)
    lens = np.diff(offsets)
    h = np.full(n, salt_, dtype=np.uint64)
    tmp = np.empty(n, dtype=np.uint64)
    minlen, maxlen = int(lens.min()), int(lens.max())
    if maxlen == 0:
        pass
    elif minlen == maxlen:
        fixed_width_words(h, data, int(offsets[0]), maxlen, tmp)
    else:
        ragged_words(h, data, offsets, lens, tmp)
    h ^= lens.astype(np.uint64)
    for shift, mult in ((30, FIN1), (27, FIN2)):
        np.right_shift(h, np.uint64(shift), out=tmp)
        h ^= tmp
        h *= np.uint64(mult)
    np.right_shift(h, np.uint64(31), out=tmp)
    h ^= tmp
    h >>= np.uint64(11)
    u = h.astype(np.float64)
    u *= TO_UNIT
    return u


def hash_array(salt_: int, arr: Any) -> np.ndarray:
    """``u`` for every row of an Array or ChunkedArray of ids (strings, integers or a dictionary)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        parts = [hash_array(salt_, chunk) for chunk in arr.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
    if pa.types.is_dictionary(arr.type):  # polars categoricals: hash each category once
        if arr.null_count:
            as_strings(arr.indices)  # raises, naming the row
        per_value = hash_strings(salt_, as_strings(arr.dictionary))
        return per_value[np.asarray(arr.indices, dtype=np.int64)]
    return hash_strings(salt_, as_strings(arr))


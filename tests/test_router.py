"""mlmm.ab.router: pinned values, a from-the-docstring reference, stickiness, ramp-up, independence, speed paths."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mlmm.ab import router as R
from mlmm.errors import ValidationError

N = 100_000
USERS = [f"user-{i}" for i in range(N)]


def reference_bucket(test_id: str, unit_id: str | int) -> float:
    """The algorithm exactly as the module docstring states it, written plainly (no speed tricks)."""
    mask = 2**64 - 1
    salt = int.from_bytes(hashlib.blake2b(test_id.encode("utf-8"), digest_size=8).digest(), "little")
    data = str(unit_id).encode("utf-8")
    h = salt
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little")
        h = ((h ^ w) * 0x9E3779B97F4A7C15) & mask
        h ^= h >> 32
    h ^= len(data)
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    h ^= h >> 31
    return (h >> 11) / 2**53


# ============================================================================ pinned values
GOLDEN = [  # computed once with the algorithm of the docstring; a change of algorithm fails here
    ("exp-1", "user-42", 0.31512635831690317),
    ("exp-1", "", 0.24808425548287982),
    ("exp-1", "a", 0.7275796549653242),
    ("exp-1", "a\0", 0.9686720366847155),
    ("exp-1", 42, 0.9266826546120325),
    ("exp-1", "42", 0.9266826546120325),
    ("exp-2", "user-42", 0.6221958997247675),
    ("checkout-v2", "0b6f6c7e-3c1f-4e4e-9a53-2f1f0f9a7d10", 0.5727809012254668),
    ("exp-1", "é✓日本", 0.17843983124538065),
    ("exp-1", "x" * 200, 0.5692267794541109),
]


@pytest.mark.parametrize(("test_id", "unit_id", "u"), GOLDEN)
def test_golden_buckets(test_id, unit_id, u):
    assert R.bucket(test_id, unit_id) == u
    assert reference_bucket(test_id, unit_id) == u
    assert R.buckets(test_id, [unit_id]).tolist() == [u]


def test_golden_salts_and_assignments():
    assert R.salt("exp-1") == 0xAA384DEA9E6AA3A1
    assert R.salt("exp-2") == 0xDE008F09E1C4B123
    assert R.assign_many("exp-1", [f"user-{i}" for i in range(20)], 0.3).tolist() == list("AAAABABAABBBAAABAABB")


def test_length_and_integer_conventions():
    assert R.bucket("exp-1", "a") != R.bucket("exp-1", "a\0")  # zero padding does not hide the length
    assert R.bucket("exp-1", 42) == R.bucket("exp-1", "42") == R.bucket("exp-1", np.int64(42))
    assert R.bucket("exp-1", -7) == R.bucket("exp-1", "-7")
    assert R.bucket("exp-1", 2**70) == R.bucket("exp-1", str(2**70))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(min_size=1, max_size=40))
def test_scalar_equals_reference(unit_id, test_id):
    assert R.bucket(test_id, unit_id) == reference_bucket(test_id, unit_id)


# ============================================================================ stickiness across processes
_CHILD = (
    "import json, mlmm.ab.router as R;"
    "print(json.dumps([R.bucket('exp-1', 'user-42'), R.assign_many('exp-1', ['user-%d' % i for i in range(50)], 0.5).tolist(),"
    " hash('user-42')]))"
)


def _child(seed: str) -> list:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_same_assignment_in_other_processes_unlike_builtin_hash():
    """The seed 003 bug: ``hash()`` is salted per process, so a restart re-shuffled users; ours is not."""
    first, second = _child("1"), _child("2")
    here = [R.bucket("exp-1", "user-42"), R.assign_many("exp-1", [f"user-{i}" for i in range(50)], 0.5).tolist()]
    assert first[:2] == second[:2] == here
    assert first[2] != second[2]  # Python's hash() of the same string differs between the two processes


# ============================================================================ ramp-up, independence, uniformity
def test_ramp_up_is_monotone():
    u = R.buckets("exp-1", USERS)
    in_b = {s: u < s for s in (0.10, 0.25, 0.50)}
    assert not (in_b[0.10] & ~in_b[0.25]).any() and not (in_b[0.25] & ~in_b[0.50]).any()
    assert in_b[0.10].sum() < in_b[0.25].sum() < in_b[0.50].sum()
    router = R.Router("exp-1", 0.10)
    b10 = [x for x in USERS[:2000] if router.assign(x) == "B"]
    assert all(router.with_share(s).assign(x) == "B" for s in (0.25, 0.5) for x in b10)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.floats(0, 1), st.floats(0, 1))
def test_in_b_at_a_share_means_in_b_at_any_larger_share(unit_id, s1, s2):
    lo, hi = sorted((s1, s2))
    if R.assign("exp-1", unit_id, lo) == "B":
        assert R.assign("exp-1", unit_id, hi) == "B"


@pytest.mark.parametrize(("share_1", "share_2"), [(0.5, 0.5), (0.1, 0.1), (0.1, 0.5)])
def test_tests_are_independent(share_1, share_2):
    b1 = R.buckets("exp-1", USERS) < share_1
    b2 = R.buckets("exp-2", USERS) < share_2
    table = np.array([[(b1 & b2).sum(), (b1 & ~b2).sum()], [(~b1 & b2).sum(), (~b1 & ~b2).sum()]])
    assert sps.chi2_contingency(table).pvalue > 0.001


@pytest.mark.parametrize("ids", ["users", "hex", "ints"])
def test_share_of_b_converges(ids):
    column = {"users": lambda: USERS, "hex": lambda: np.random.default_rng(3).bytes(16 * N).hex(),
              "ints": lambda: np.arange(N)}[ids]()
    if ids == "hex":  # 100k fixed-width 32-character hex ids
        column = pa.array([column[i:i + 32] for i in range(0, 32 * N, 32)])
    u = R.buckets("exp-1", column)
    for share in (0.01, 0.1, 0.25, 0.5, 0.9):
        b = int((u < share).sum())
        assert abs(b - N * share) <= 4 * math.sqrt(N * share * (1 - share)), share


def test_buckets_are_uniform():
    for test_id in ("exp-1", "exp-2", "checkout-v2"):
        u = R.buckets(test_id, USERS)
        assert sps.kstest(u, "uniform").pvalue > 0.001
        assert u.min() >= 0.0 and u.max() < 1.0


# ============================================================================ vectorized == scalar
def _scalar(test_id, ids):
    return np.array([R.bucket(test_id, x) for x in ids], dtype=np.float64)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=40))
def test_vectorized_equals_scalar_on_unicode(ids):
    expected = _scalar("exp-1", ids)
    assert np.array_equal(R.buckets("exp-1", ids), expected)
    assert np.array_equal(R.buckets("exp-1", pa.array(ids, type=pa.large_string())), expected)
    assert np.array_equal(R.buckets("exp-1", pl.Series(ids, dtype=pl.String)), expected)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 24).flatmap(
    lambda k: st.lists(st.text(st.characters(codec="ascii"), min_size=k, max_size=k), min_size=1, max_size=30)))
def test_vectorized_equals_scalar_on_fixed_width_ids(ids):
    """Rows of one byte length take the strided path, including the partial last word of the last row."""
    expected = _scalar("exp-1", ids)
    arr = pa.array(ids)
    assert np.array_equal(R.buckets("exp-1", arr), expected)
    for lo in range(min(3, len(ids))):  # sliced arrays: the buffer starts before and ends after the rows
        assert np.array_equal(R.buckets("exp-1", arr[lo:len(ids) - lo]), expected[lo:len(ids) - lo])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40))
def test_vectorized_equals_scalar_on_integers(ids):
    expected = _scalar("exp-1", [str(i) for i in ids])
    assert np.array_equal(R.buckets("exp-1", ids), expected)
    assert np.array_equal(R.buckets("exp-1", np.array(ids, dtype=np.int64)), expected)


def test_vectorized_on_every_container():
    ids = ["user-1", "", "héllo", "x" * 77, "user-1", "0b6f6c7e-3c1f-4e4e-9a53-2f1f0f9a7d10"]
    expected = _scalar("exp-1", ids)
    containers = [
        ids, tuple(ids), iter(ids), np.array(ids), np.array(ids, dtype=object), pa.array(ids),
        pa.chunked_array([ids[:2], ids[2:]]), pa.array(ids).dictionary_encode(),
        pl.Series(ids), pl.Series(ids, dtype=pl.Categorical), pa.array(ids, type=pa.string_view()),
    ]
    for column in containers:
        assert np.array_equal(R.buckets("exp-1", column), expected), type(column)
    mixed = ["7", 7, 2**80, "user-1"]
    assert np.array_equal(R.buckets("exp-1", mixed), _scalar("exp-1", ["7", "7", str(2**80), "user-1"]))
    assert np.array_equal(R.buckets("exp-1", np.array([2**64 - 1], dtype=np.uint64)), _scalar("exp-1", [2**64 - 1]))
    assert R.buckets("exp-1", []).dtype == np.float64 and R.buckets("exp-1", []).size == 0


def test_ragged_column_with_one_long_id():
    ids = [f"u{i}" for i in range(1000)] + ["z" * 150]
    assert np.array_equal(R.buckets("exp-1", ids), _scalar("exp-1", ids))


# ============================================================================ multi-arm
def test_two_arms_are_assign_and_the_last_arm_is_sticky():
    ids = USERS[:5000]
    assert np.array_equal(R.arm_many("exp-1", ids, [0.7, 0.3]) == 1, R.assign_many("exp-1", ids, 0.3) == "B")
    canary = {s: R.arm_many("exp-1", ids, [0.9 - s, 0.1, s]) for s in (0.01, 0.05, 0.2, 0.5)}
    for small, large in ((0.01, 0.05), (0.05, 0.2), (0.2, 0.5)):
        assert not ((canary[small] == 2) & (canary[large] != 2)).any()
    assert [R.arm("exp-1", x, [0.5, 0.2, 0.3]) for x in ids[:200]] == R.arm_many("exp-1", ids[:200], [0.5, 0.2, 0.3]).tolist()
    shares = np.bincount(R.arm_many("exp-1", USERS, [0.5, 0.2, 0.3]), minlength=3) / N
    assert np.allclose(shares, [0.5, 0.2, 0.3], atol=0.005)
    assert R.arm("exp-1", "user-42", [1.0]) == 0


def test_taking_weight_from_the_arm_before_moves_only_its_units():
    ids = USERS[:5000]
    before = R.arm_many("exp-1", ids, [0.6, 0.3, 0.1])
    after = R.arm_many("exp-1", ids, [0.6, 0.2, 0.2])
    moved = before != after
    assert set(before[moved]) == {1} and set(after[moved]) == {2}


# ============================================================================ Router
def test_router_value_object():
    router = R.Router("exp-1", 0.1)
    assert repr(router) == "Router(test_id='exp-1', share_b=0.1)"
    assert router.to_dict() == {"test_id": "exp-1", "share_b": 0.1}
    assert router == R.Router("exp-1", 0.1) and router.with_share(0.25) == R.Router("exp-1", 0.25)
    assert router.bucket("user-42") == R.bucket("exp-1", "user-42")
    assert np.array_equal(router.buckets(USERS[:100]), R.buckets("exp-1", USERS[:100]))
    assert router.assign_many(USERS[:100]).tolist() == [router.assign(x) for x in USERS[:100]]
    assert R.Router("exp-1", 1).share_b == 1.0
    with pytest.raises(AttributeError):
        router.share_b = 0.5  # type: ignore[misc]


# ============================================================================ validation
@pytest.mark.parametrize("share", [1.5, -0.1, float("nan"), "0.5", True, None])
def test_share_must_be_a_number_in_0_1(share):
    message = f"share_b={share!r}: expected a number in [0, 1]"
    for call in (lambda: R.assign("exp-1", "u", share), lambda: R.assign_many("exp-1", ["u"], share),
                 lambda: R.Router("exp-1", share), lambda: R.Router("exp-1", 0.1).with_share(share)):
        with pytest.raises(ValidationError) as info:
            call()
        assert str(info.value) == message


@pytest.mark.parametrize("test_id", ["", 3, None, b"exp-1"])
def test_test_id_must_be_a_non_empty_string(test_id):
    with pytest.raises(ValidationError, match=r"^test_id=.*: expected a non-empty string$"):
        R.bucket(test_id, "u")
    with pytest.raises(ValidationError, match="test_id"):
        R.Router(test_id, 0.5)


@pytest.mark.parametrize("unit_id", [None, 1.5, True, b"u", ["u"]])
def test_unit_id_must_be_a_string_or_an_integer(unit_id):
    with pytest.raises(ValidationError) as info:
        R.bucket("exp-1", unit_id)
    assert str(info.value) == f"unit_id={unit_id!r}: expected a string or an integer"


def test_bad_columns_name_the_row_or_the_type():
    cases = [
        (["a", None, "c"], "unit_id=None in row 1: expected a string or an integer (no nulls)"),
        (pl.Series(["a", "b", None]), "unit_id=None in row 2: expected a string or an integer (no nulls)"),
        (["a", 1.5], "unit_id=1.5 in row 1: expected a string or an integer"),
        (np.array([0.5, 1.5]), "ids has dtype float64: expected strings or integers"),
        (np.array([True]), "ids has dtype bool: expected strings or integers"),
        ([True, False], "ids of type bool: expected strings or integers"),
        (np.array([["a"]]), "ids has shape (1, 1): expected a 1-D array of ids"),
        ("user-42", "ids='user-42': expected a sequence, array or column of ids"),
    ]
    for ids, message in cases:
        with pytest.raises(ValidationError) as info:
            R.buckets("exp-1", ids)
        assert str(info.value) == message


def test_text_that_is_not_utf8_is_refused():
    with pytest.raises(ValidationError, match=r"^unit_id='\\ud800': expected text that encodes as UTF-8"):
        R.bucket("exp-1", "\ud800")


@pytest.mark.parametrize(("weights", "message"), [
    ([0.5, 0.6], "weights=[0.5, 0.6]: expected weights summing to 1 (they sum to 1.1)"),
    ([1.2, -0.2], "weights=[1.2, -0.2]: expected weights >= 0, got -0.2"),
    ([], "weights=[]: expected at least one arm"),
    ([0.5, float("nan")], "weights=[0.5, nan]: expected weights >= 0, got nan"),
    ("ab", "weights='ab': expected a sequence of numbers summing to 1"),
])
def test_weights_are_checked(weights, message):
    with pytest.raises(ValidationError) as info:
        R.arm("exp-1", "u", weights)
    assert str(info.value) == message

"""Tests of semantic versions (mlmm.version.Version)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmm import ValidationError, Version

EXPECTED = "expected a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. '1.0.0' or '2.0.0-rc.1'"

# https://semver.org/#spec-item-11 (Semantic Versioning 2.0.0, section 11), verbatim:
# "Example: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 <
#  1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0."
SEMVER_11_PRERELEASE = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]
# Same section: "Example: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1."
SEMVER_11_RELEASE = ["1.0.0", "2.0.0", "2.1.0", "2.1.1"]


@pytest.mark.parametrize("chain", [SEMVER_11_PRERELEASE, SEMVER_11_RELEASE])
def test_semver_org_section_11_precedence(chain: list[str]) -> None:
    versions = [Version.parse(v) for v in chain]
    for lower, higher in itertools.pairwise(versions):
        assert lower < higher, (lower, higher)
        assert higher > lower
        assert lower != higher
    assert sorted(reversed(chain), key=Version.parse) == chain
    shuffled = list(chain)
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=Version.parse) == chain


def test_numeric_components_compare_as_numbers() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.0")
    assert Version.parse("1.0.10") > Version.parse("1.0.9")
    assert Version.parse("10.0.0") > Version.parse("9.99.99")
    assert sorted(["1.9.0", "1.10.0", "1.2.0"], key=Version.parse) == ["1.2.0", "1.9.0", "1.10.0"]
    # a pre-release sorts before its release but after the previous release
    assert Version.parse("1.9.0") < Version.parse("2.0.0-rc.1") < Version.parse("2.0.0")
    # numeric identifiers sort before alphanumeric ones (semver 11.4.3)
    assert Version.parse("1.0.0-2") < Version.parse("1.0.0-alpha")
    assert Version.parse("1.0.0-rc.2") < Version.parse("1.0.0-rc.10")


def test_fields_and_str() -> None:
    v = Version.parse("2.0.0-rc.1+build.5")
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == (2, 0, 0, "rc.1", "build.5")
    assert v.is_prerelease
    assert str(v) == "2.0.0-rc.1+build.5"
    assert repr(v) == "Version('2.0.0-rc.1+build.5')"
    assert str(Version.parse("v1.2.3")) == "1.2.3"  # a leading "v" is accepted and dropped
    assert str(Version.parse(" 1.2.3 ")) == "1.2.3"
    assert not Version.parse("1.2.3").is_prerelease
    assert Version.parse(v) is v


def test_build_metadata_is_ignored_in_equality_and_ordering() -> None:
    a, b, plain = Version.parse("1.0.0+a"), Version.parse("1.0.0+b.2"), Version.parse("1.0.0")
    assert a == b == plain
    assert hash(a) == hash(b) == hash(plain)
    assert not a < b and not b < a
    assert len({a, b, plain}) == 1
    assert str(a) == "1.0.0+a"  # kept, only ignored for precedence
    assert Version.parse("1.0.0-rc.1+x") < Version.parse("1.0.0+x")


def test_comparison_with_strings() -> None:
    assert Version.parse("1.0.0") == "1.0.0+meta"
    assert Version.parse("1.0.0") < "1.0.1"
    assert (Version.parse("1.0.0") == "not a version") is False
    assert (Version.parse("1.0.0") == 1) is False


def test_bump() -> None:
    assert Version.parse("1.2.3").bump() == Version(1, 2, 4)
    assert repr(Version.parse("1.2.3").bump("minor")) == "Version('1.3.0')"
    assert repr(Version.parse("1.2.3-rc.1").bump("major")) == "Version('2.0.0')"
    # bumping the patch of a pre-release gives its release
    assert repr(Version.parse("1.2.3-rc.1").bump("patch")) == "Version('1.2.3')"
    with pytest.raises(ValidationError) as err:
        Version.parse("1.2.3").bump("micro")
    assert str(err.value) == "part='micro': expected 'major', 'minor' or 'patch'"


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "1",
        "",
        "1.2.3.4",
        "01.2.3",  # leading zero (semver 2)
        "1.02.3",
        "1.2.3-01",  # numeric pre-release identifier with a leading zero (semver 9)
        "1.2.3-",
        "1.2.3-alpha..1",  # empty identifier (semver 9)
        "1.2.3+",
        "1.2.3+a..b",
        "1.2.3-al_pha",  # only [0-9A-Za-z-] (semver 9)
        "latest",
        "1.0.0 beta",
        "1\u0661.0.0",  # ARABIC-INDIC DIGIT ONE: semver digits are ASCII
        "1.0.0-\u0661",
    ],
)
def test_invalid_strings_raise_validation_error(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        Version.parse(text)
    assert str(err.value) == f"version={text!r}: {EXPECTED}"
    assert isinstance(err.value, ValueError)


def test_invalid_message_names_the_field_and_non_strings() -> None:
    with pytest.raises(ValidationError) as err:
        Version.parse("1.2", field="to_version")
    assert str(err.value) == f"to_version='1.2': {EXPECTED}"
    with pytest.raises(ValidationError) as err:
        Version.parse(None)  # type: ignore[arg-type]
    assert str(err.value) == f"version=None: {EXPECTED}"
    with pytest.raises(ValidationError) as err:
        Version.parse(1.0)  # type: ignore[arg-type]
    assert str(err.value) == f"version=1.0: {EXPECTED}"


def test_constructor_validates_its_fields() -> None:
    with pytest.raises(ValidationError) as err:
        Version(1, -1, 0)
    assert str(err.value) == "minor=-1: expected a non-negative integer"
    with pytest.raises(ValidationError) as err:
        Version(True, 0, 0)  # type: ignore[arg-type]
    assert str(err.value) == "major=True: expected a non-negative integer"
    with pytest.raises(ValidationError) as err:
        Version(1, 0, 0, "01")  # would otherwise equal 1.0.0-1 while printing differently
    assert str(err.value) == "prerelease='01': expected dot-separated identifiers of [0-9A-Za-z-], no leading zeros in numbers"
    with pytest.raises(ValidationError) as err:
        Version(1, 0, 0, None, "a b")
    assert str(err.value) == "build='a b': expected dot-separated identifiers of [0-9A-Za-z-]"
    assert Version(1, 0, 0, "rc.1", "b.7") == Version.parse("1.0.0-rc.1+b.7")


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)), max_size=30))
def test_sorting_releases_equals_sorting_tuples(triples: list[tuple[int, int, int]]) -> None:
    texts = [f"{a}.{b}.{c}" for a, b, c in triples]
    by_version = [str(v) for v in sorted(Version.parse(t) for t in texts)]
    by_tuple = [f"{a}.{b}.{c}" for a, b, c in sorted(triples)]
    assert by_version == by_tuple


@given(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
)
def test_order_is_consistent_with_tuples_and_equality(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = Version(*a), Version(*b)
    assert (va < vb) == (a < b)
    assert (va == vb) == (a == b)
    assert (hash(va) == hash(vb)) or va != vb
    # any pre-release of a triple sorts below its release and above every lower release
    pre = Version(*a, prerelease="rc.1")
    assert pre < va
    if b < a:
        assert vb < pre

"""Semantic versions (https://semver.org, 2.0.0) with correct precedence.

``1.10.0 > 1.9.0``; a pre-release sorts before its release (``2.0.0-rc.1 < 2.0.0``);
pre-release identifiers compare numerically when numeric, else lexically, and numeric
identifiers sort before alphanumeric ones (semver section 11). Build metadata
(``+build.5``) is kept but ignored for ordering and equality, as the spec requires.

MAJOR, MINOR and PATCH are at most ``MAX_PART = 2**31 - 1``: the registry stores them in
DuckDB ``INTEGER`` columns (signed 32-bit), so a larger part could be parsed but never
registered. The bound is checked here, so every version mlmm accepts can be stored.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .errors import ValidationError

__all__ = ["MAX_PART", "Version"]

MAX_PART = 2**31 - 1  # the registry's versions.major/minor/patch are DuckDB INTEGER (int32)

_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$",
    re.ASCII,  # semver digits are ASCII: "1\u0661.0.0" must not parse as 11.0.0
)  # used with fullmatch: "$" alone also matches before a trailing newline
_PRERELEASE_RE = re.compile(r"^(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*$", re.ASCII)
_BUILD_RE = re.compile(r"^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$", re.ASCII)


@functools.total_ordering
class Version:
    """An immutable semantic version.

    >>> Version.parse("1.10.0") > Version.parse("1.9.0")
    True
    >>> sorted(["2.0.0", "2.0.0-rc.1", "2.0.0-alpha", "1.0.0"], key=Version.parse)
    ['1.0.0', '2.0.0-alpha', '2.0.0-rc.1', '2.0.0']
    >>> Version.parse("1.2.3").bump("minor")
    Version('1.3.0')
    >>> Version.parse("1.2")
    Traceback (most recent call last):
    ...
    mlmm.errors.ValidationError: version='1.2': expected a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. '1.0.0' or '2.0.0-rc.1'
    """

    __slots__ = ("major", "minor", "patch", "prerelease", "build", "_key")

    def __init__(
        self, major: int, minor: int, patch: int, prerelease: str | None = None, build: str | None = None
    ) -> None:
        for field, value in (("major", major), ("minor", minor), ("patch", patch)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValidationError(f"{field}={value!r}: expected a non-negative integer")
            if value > MAX_PART:
                raise ValidationError(
                    f"{field}={value}: expected an integer <= {MAX_PART} (2**31 - 1, what the registry can store)"
                )
        if prerelease and not (isinstance(prerelease, str) and _PRERELEASE_RE.fullmatch(prerelease)):
            raise ValidationError(
                f"prerelease={prerelease!r}: expected dot-separated identifiers of [0-9A-Za-z-],"
                " no leading zeros in numbers"
            )
        if build and not (isinstance(build, str) and _BUILD_RE.fullmatch(build)):
            raise ValidationError(f"build={build!r}: expected dot-separated identifiers of [0-9A-Za-z-]")
        self.major, self.minor, self.patch = major, minor, patch
        self.prerelease = prerelease or None
        self.build = build or None
        pre: tuple[Any, ...]
        if self.prerelease is None:
            pre = ((1,),)  # a release sorts after every pre-release of the same triple
        else:
            pre = tuple(
                (0, 0, int(part), "") if part.isdigit() else (0, 1, 0, part)
                for part in self.prerelease.split(".")
            )
            pre = ((0, pre),)
        self._key = (major, minor, patch, pre)

    @classmethod
    def parse(cls, value: str | Version, field: str = "version") -> Version:
        if isinstance(value, Version):
            return value
        match = _SEMVER_RE.fullmatch(value.strip()) if isinstance(value, str) else None
        if not match:
            raise ValidationError(
                f"{field}={value!r}: expected a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD],"
                " e.g. '1.0.0' or '2.0.0-rc.1'"
            )
        major, minor, patch, pre, build = match.groups()
        for part, digits in (("major", major), ("minor", minor), ("patch", patch)):
            # compare lengths first: int() refuses strings of more than 4300 digits with a ValueError
            if len(digits) > len(str(MAX_PART)) or int(digits) > MAX_PART:
                raise ValidationError(
                    f"{field}={value!r}: {part}={digits} is too large; expected each of MAJOR, MINOR and PATCH"
                    f" <= {MAX_PART} (2**31 - 1, what the registry can store)"
                )
        return cls(int(major), int(minor), int(patch), pre, build)

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    def bump(self, part: str = "patch") -> Version:
        """The next version: ``part`` is ``"major"``, ``"minor"`` or ``"patch"``."""
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + (0 if self.prerelease else 1))
        raise ValidationError(f"part={part!r}: expected 'major', 'minor' or 'patch'")

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Version.parse(other)
            except ValidationError:
                return NotImplemented
        if not isinstance(other, Version):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Version.parse(other)
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

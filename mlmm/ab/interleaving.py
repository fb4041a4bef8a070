"""Interleaving (seed 003): team-draft interleaving of two rankings and the preference test
over impressions. Pure functions of the rankings and the clicks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..errors import ValidationError

__all__ = ["interleaving_preference", "team_draft_interleave"]


def team_draft_interleave(ranking_a: Sequence[Any], ranking_b: Sequence[Any], *, length: int | None = None,
                          seed: int | str | None = None) -> tuple[list[Any], list[str]]:
    """Team-draft interleaving (Radlinski et al. 2008): the two rankings take turns, a coin
    deciding who picks first in each round; each picks its best item not yet shown. Returns
    the interleaved list and which team contributed each item ("A"/"B"). ``seed`` makes the
    coin flips reproducible (e.g. the request id).

    >>> items, teams = team_draft_interleave(["a", "b", "c"], ["b", "d", "a"], seed=1)
    >>> sorted(items) == sorted(set(["a", "b", "c", "d"])), len(teams) == len(items)
    (True, True)
    """
    rng = random.Random(seed)
    limit = length if length is not None else len(set(ranking_a) | set(ranking_b))
    out: list[Any] = []
    teams: list[str] = []
    shown: set[Any] = set()
    count = {"A": 0, "B": 0}
    pools = {"A": list(ranking_a), "B": list(ranking_b)}
    while len(out) < limit:
        # the team with fewer picks goes next; a coin decides a tie (Radlinski et al. 2008)
        team = "A" if count["A"] < count["B"] or (count["A"] == count["B"] and rng.random() < 0.5) else "B"
        pick = next((x for x in pools[team] if x not in shown), None)
        if pick is None:
            team = "B" if team == "A" else "A"
            pick = next((x for x in pools[team] if x not in shown), None)
            if pick is None:
                break
        out.append(pick)
        teams.append(team)
        shown.add(pick)
        count[team] += 1
    return out, teams


def interleaving_preference(clicks_a: Sequence[int], clicks_b: Sequence[int], *, alpha: float = 0.05) -> dict[str, Any]:
    """Per impression, the clicks credited to each team; the preference test is a two-sided
    sign (binomial) test over impressions with a winner (ties left out)."""
    from scipy.stats import binomtest

    if len(clicks_a) != len(clicks_b):
        raise ValidationError(f"clicks_a, clicks_b: expected equal lengths, got {len(clicks_a)} and {len(clicks_b)}")
    wins_a = sum(1 for x, y in zip(clicks_a, clicks_b, strict=True) if x > y)
    wins_b = sum(1 for x, y in zip(clicks_a, clicks_b, strict=True) if y > x)
    ties = len(clicks_a) - wins_a - wins_b
    n = wins_a + wins_b
    p = float(binomtest(wins_b, n, 0.5).pvalue) if n else 1.0
    delta = (wins_b - wins_a) / max(n + ties, 1)
    return {"wins_a": wins_a, "wins_b": wins_b, "ties": ties, "delta": delta, "p_value": p,
            "winner": ("B" if wins_b > wins_a else "A") if p < alpha else "tie"}

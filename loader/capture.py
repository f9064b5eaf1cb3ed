"""Capture years: the page date of a listing has no year, so it is inferred.

Rules (pure functions, no database):
- a dump shows the year of every paper date outside the year it was captured,
  so each explicit year in a dump is earlier than its capture year;
- a paper shown without a year in dump A and with an explicit year in dump B
  (same month and day) pins A's capture year to that year;
- two dumps that both show the same paper without a year were captured in the
  same year, so they share their evidence;
- the page date itself must exist in that year (Feb 29 only in leap years);
- the capture year is the smallest year consistent with all of that, a pin or
  a manifest override decides outright, and nothing known means NULL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

MANIFEST, PINNED, EXPLICIT_YEARS, UNKNOWN, CONFLICT = "manifest", "pinned", "explicit-years", "unknown", "conflict"


@dataclass
class Evidence:
    """What one dump says about its own year."""

    max_explicit_year: int | None = None
    yearless: set[tuple[int, str]] = field(default_factory=set)  # (paper id, "MM-DD")
    page_date: tuple[int, int] = (1, 1)  # (month, day) printed on the page


@dataclass(frozen=True)
class Capture:
    year: int | None
    source: str


def infer_capture_years(
    evidence: dict[str, Evidence],
    explicit_years: dict[tuple[int, str], set[int]],
    overrides: dict[str, int],
) -> dict[str, Capture]:
    """Capture year and its source for every dump in `evidence`.

    `explicit_years` maps (paper id, "MM-DD") to the years other listings printed
    for that paper's date; `overrides` are the manifest's years.
    """
    groups = _same_year_groups(evidence)
    result: dict[str, Capture] = {}
    for members in groups:
        group_capture = _group_capture(members, evidence, explicit_years, overrides)
        for name in members:
            if name in overrides:
                valid = _page_date_exists(evidence[name], overrides[name])
                result[name] = Capture(overrides[name], MANIFEST) if valid else Capture(None, CONFLICT)
            else:
                result[name] = group_capture
    return result


def _page_date_exists(evidence: Evidence, year: int) -> bool:
    """A page dated Feb 29 can only have been captured in a leap year."""
    try:
        date(year, *evidence.page_date)
    except ValueError:
        return False
    return True


def _group_capture(
    members: list[str],
    evidence: dict[str, Evidence],
    explicit_years: dict[tuple[int, str], set[int]],
    overrides: dict[str, int],
) -> Capture:
    known = [evidence[name].max_explicit_year for name in members]
    lower = max((year for year in known if year is not None), default=None)
    pins = {overrides[name] for name in members if name in overrides}
    for name in members:
        for key in evidence[name].yearless:
            pins |= explicit_years.get(key, set())
    dated = [evidence[name] for name in members if name not in overrides]
    if pins:
        (pin, *others) = sorted(pins)
        if others or (lower is not None and pin <= lower) or not all(_page_date_exists(e, pin) for e in dated):
            return Capture(None, CONFLICT)
        return Capture(pin, PINNED)
    if lower is not None:
        year = lower + 1
        while not all(_page_date_exists(e, year) for e in dated):
            year += 1
        return Capture(year, EXPLICIT_YEARS)
    return Capture(None, UNKNOWN)


def _same_year_groups(evidence: dict[str, Evidence]) -> list[list[str]]:
    """Dumps linked by a paper that both show without a year, as connected groups."""
    parent = {name: name for name in evidence}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    first_holder: dict[tuple[int, str], str] = {}
    for name in sorted(evidence):
        for key in evidence[name].yearless:
            other = first_holder.setdefault(key, name)
            parent[root(name)] = root(other)
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(evidence):
        groups[root(name)].append(name)
    return list(groups.values())


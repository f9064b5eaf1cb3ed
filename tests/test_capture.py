"""Capture-year inference, on evidence written by hand."""

from __future__ import annotations

from loader.capture import Capture, Evidence, infer_capture_years


def infer(evidence, explicit=None, overrides=None):
    return infer_capture_years(evidence, explicit or {}, overrides or {})


def test_smallest_year_after_every_explicit_year():
    assert infer({"a": Evidence(max_explicit_year=2024)}) == {"a": Capture(2025, "explicit-years")}


def test_nothing_known_stays_null():
    assert infer({"a": Evidence()}) == {"a": Capture(None, "unknown")}


def test_yearless_paper_with_explicit_year_elsewhere_pins_the_year():
    evidence = {"a": Evidence(2023, {(7, "07-10")}), "b": Evidence(2025)}
    result = infer(evidence, {(7, "07-10"): {2025}})
    assert result["a"] == Capture(2025, "pinned")
    assert result["b"] == Capture(2026, "explicit-years")


def test_pin_needs_the_same_month_and_day():
    evidence = {"a": Evidence(2023, {(7, "07-10")})}
    assert infer(evidence, {(7, "07-11"): {2025}})["a"] == Capture(2024, "explicit-years")


def test_dumps_sharing_a_yearless_paper_share_their_year():
    evidence = {"a": Evidence(2021, {(1, "03-05")}), "b": Evidence(2024, {(1, "03-05"), (2, "04-01")})}
    assert infer(evidence) == {"a": Capture(2025, "explicit-years"), "b": Capture(2025, "explicit-years")}
    pinned = infer(evidence, {(2, "04-01"): {2026}})
    assert pinned == {"a": Capture(2026, "pinned"), "b": Capture(2026, "pinned")}


def test_contradicting_evidence_gives_null_not_a_guess():
    two_pins = {"a": Evidence(None, {(1, "01-01"), (2, "02-02")})}
    assert infer(two_pins, {(1, "01-01"): {2024}, (2, "02-02"): {2025}})["a"] == Capture(None, "conflict")
    pin_too_early = {"a": Evidence(2025, {(1, "01-01")})}
    assert infer(pin_too_early, {(1, "01-01"): {2025}})["a"] == Capture(None, "conflict")


def test_manifest_overrides_the_dump_and_pins_its_group():
    evidence = {"a": Evidence(2030), "b": Evidence(None, {(1, "01-01")}), "c": Evidence(None, {(1, "01-01")})}
    result = infer(evidence, overrides={"a": 2020, "b": 2024})
    assert result == {"a": Capture(2020, "manifest"), "b": Capture(2024, "manifest"), "c": Capture(2024, "pinned")}


def test_a_page_dated_feb_29_moves_to_the_next_leap_year():
    assert infer({"a": Evidence(2024, page_date=(2, 29))}) == {"a": Capture(2028, "explicit-years")}
    assert infer({"a": Evidence(2023, page_date=(2, 29))}) == {"a": Capture(2024, "explicit-years")}
    pinned = {"a": Evidence(None, {(1, "01-01")}, page_date=(2, 29))}
    assert infer(pinned, {(1, "01-01"): {2025}})["a"] == Capture(None, "conflict")
    assert infer({"a": Evidence(page_date=(2, 29))}, overrides={"a": 2025})["a"] == Capture(None, "conflict")


def test_dumps_with_different_yearless_papers_keep_their_own_years():
    evidence = {"a": Evidence(2021, {(1, "03-05")}), "b": Evidence(2024, {(2, "04-01")}), "c": Evidence(2019)}
    assert infer(evidence) == {
        "a": Capture(2022, "explicit-years"),
        "b": Capture(2025, "explicit-years"),
        "c": Capture(2020, "explicit-years"),
    }

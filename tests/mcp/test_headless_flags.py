"""The headless batch offers agents the tools whose declarations flag them, and denies every other tool."""

from __future__ import annotations

from avmine.server.mcp.app import headless_tools

SCREENING_ONLY = {"score_run", "save_example"}


def test_a_run_offers_the_flagged_tools_and_denies_scores_and_library_writes() -> None:
    allowed, denied = headless_tools(screening=False)
    assert {"search_docs", "execute_scenario", "get_run", "vlm_check", "submit_program"} <= set(allowed)
    assert set(denied) >= SCREENING_ONLY and not set(allowed) & set(denied)


def test_screening_adds_exactly_the_screening_tools() -> None:
    allowed, denied = headless_tools(screening=False)
    screen_allowed, screen_denied = headless_tools(screening=True)
    assert set(screen_allowed) == set(allowed) | SCREENING_ONLY
    assert set(screen_denied) == set(denied) - SCREENING_ONLY
    assert sorted(screen_allowed + screen_denied) == sorted(allowed + denied)  # the same tools, split differently

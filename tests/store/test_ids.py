"""Ids as the tools show them: a unique prefix names a log, run or track; others get a clear error."""

from __future__ import annotations

import pytest

from avmine.store import Store, StoreError, ids, ingest
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.runs import LogResult, Run, load_run, record_run

SM_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
OTHER_LOG = "3bffdcff-c3a7-38b6-a0f2-64196d130958"


def test_a_unique_prefix_names_one_id_and_others_are_refused() -> None:
    known = ["7bd6176d-aaaa", "7bd61000-bbbb", "c0ffee00-cccc"]
    assert ids.by_prefix("c0ffee00", known, "track", "see get_run.") == "c0ffee00-cccc"
    assert ids.by_prefix(" 7BD6176D ", known, "track", "see get_run.") == "7bd6176d-aaaa"
    assert ids.by_prefix("7bd61000-bbbb", known, "track", "see get_run.") == "7bd61000-bbbb"
    with pytest.raises(StoreError, match=r"prefix '7bd61' is ambiguous: 7bd61000-bbbb, 7bd6176d-aaaa start with it"):
        ids.by_prefix("7bd61", known, "track", "see get_run.")
    with pytest.raises(StoreError, match=r"unknown track 'nope' \(no track id is or starts with it\); see get_run"):
        ids.by_prefix("nope", known, "track", "see get_run.")
    with pytest.raises(StoreError, match="an empty track id"):
        ids.by_prefix("  ", known, "track", "see get_run.")


def test_logs_and_runs_by_prefix_in_a_real_database(store: Store) -> None:
    for log in (SM_LOG, OTHER_LOG):
        ingest(store, SCENARIO_MINING_DIR / log, split="val", progress=False)
    assert ids.log_id(store, "3b3570b4") == SM_LOG
    assert ids.log_id(store, OTHER_LOG) == OTHER_LOG
    with pytest.raises(StoreError, match=f"ambiguous: {SM_LOG}, {OTHER_LOG} start with it"):
        ids.log_id(store, "3b")
    with pytest.raises(StoreError, match=r"unknown log 'ffff'.*list_logs"):
        ids.log_id(store, "ffff")
    first = Run(prompt="p", program="x", run_id="ab12000000000000")
    second = Run(prompt="p", program="y", run_id="ab34000000000000")
    for run in (first, second):
        record_run(store, run, [LogResult(log_id=SM_LOG, status="ok", scenario={})])
    record, results = load_run(store, "AB12")
    assert record["run_id"] == first.run_id and results[0].log_id == SM_LOG
    with pytest.raises(StoreError, match="prefix 'ab' is ambiguous"):
        load_run(store, "ab")
    with pytest.raises(StoreError, match="unknown run 'cd'"):
        load_run(store, "cd")

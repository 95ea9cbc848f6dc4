"""REFERRED / RELATED / OTHER labels of a log's boxes from a RefAV scenario dict.

RefAV: ``refAV/utils.py: create_mining_pkl``.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.evaluation.sequences import OTHER_OBJECT, REFERRED_OBJECT, RELATED_OBJECT
from avmine.store.typing import NDArrayInt


def scenario_timestamps(value: Any) -> set[int]:
    """All timestamps of a scenario value: a list/set itself, or the union over a dict's subtree.

    Args:
        value: list, set or (nested) dict.

    Returns:
        The timestamps.
    """
    if isinstance(value, Mapping):
        out: set[int] = set()
        for child in value.values():
            out |= scenario_timestamps(child)
        return out
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return {int(t) for t in value}
    return set()


def _related_occurrences(value: Any, into: dict[str, set[int]]) -> None:
    """Record every uuid found below a dict value, at that occurrence's timestamps."""
    if not isinstance(value, Mapping):
        return
    for uuid, child in value.items():
        into.setdefault(str(uuid), set()).update(scenario_timestamps(child))
        _related_occurrences(child, into)


def label_boxes(
    scenario: Mapping[str, Any] | None, track_uuid: npt.NDArray[Any], timestamp_ns: NDArrayInt
) -> NDArrayInt:
    """Label each box (uuid, timestamp) by the scenario, with RefAV's rules and its RELATED bug.

    REFERRED: the uuid is a top-level key and the timestamp is in its timestamps. RELATED: the uuid occurs
    below a top-level key at that timestamp, except when the uuid is itself a top-level key with a dict
    value (RefAV then never labels it RELATED; reproduced). OTHER: everything else, and every box when
    ``scenario`` is None (the program failed).

    Args:
        scenario: flat, relational or nested scenario dict (sets, self-keys and empty values allowed).
        track_uuid: (N,) uuid of each box.
        timestamp_ns: (N,) timestamp of each box.

    Returns:
        (N,) labels.
    """
    labels = np.full(track_uuid.shape[0], OTHER_OBJECT, dtype=np.int64)
    if not scenario:
        return labels
    referred = {str(uuid): scenario_timestamps(value) for uuid, value in scenario.items()}
    related: dict[str, set[int]] = {}
    for value in scenario.values():
        _related_occurrences(value, related)
    relational_top = {str(uuid) for uuid, value in scenario.items() if isinstance(value, Mapping)}
    for uuid in relational_top:
        related.pop(uuid, None)
    uuids = track_uuid.astype(str)
    labels[_pairs_in(uuids, timestamp_ns, related)] = RELATED_OBJECT
    labels[_pairs_in(uuids, timestamp_ns, referred)] = REFERRED_OBJECT
    return labels


def _pairs_in(
    uuids: npt.NDArray[np.str_], timestamp_ns: NDArrayInt, timestamps_by_uuid: Mapping[str, set[int]]
) -> npt.NDArray[np.bool_]:
    """(N,) whether each (uuid, timestamp) is listed in ``timestamps_by_uuid``."""
    listed_uuid = [u for u, ts in timestamps_by_uuid.items() for _ in ts]
    listed_ts = [t for ts in timestamps_by_uuid.values() for t in ts]
    if not listed_uuid or uuids.size == 0:
        return np.zeros(uuids.shape[0], dtype=bool)
    _, uuid_code = np.unique(np.concatenate([uuids, np.asarray(listed_uuid, dtype=str)]), return_inverse=True)
    times, time_code = np.unique(
        np.concatenate([timestamp_ns.astype(np.int64), np.asarray(listed_ts, np.int64)]), return_inverse=True
    )
    key = uuid_code.astype(np.int64) * times.size + time_code.astype(np.int64)
    return np.isin(key[: uuids.size], key[uuids.size :])

"""Evaluation timestamps: which sweeps of a log are scored (RefAV's 2 Hz rule)."""

from collections.abc import Mapping, Sequence

import numpy as np

from avmine.store.typing import NDArrayInt

MAX_TIMESTAMPS_KEPT_AS_IS = 50
"""Logs with more distinct timestamps than this are taken to be 10 Hz and subsampled."""
SUBSAMPLE_STEP = 5
"""10 Hz to 2 Hz: every 5th timestamp, starting with the first."""


def evaluation_timestamps(
    annotation_timestamps_ns: Sequence[int] | NDArrayInt,
    log_id: str | None = None,
    known: Mapping[str, Sequence[int]] | None = None,
) -> NDArrayInt:
    """The timestamps a log is evaluated at.

    RefAV first looks the log up in its ``eval_timestamps.json`` (``known``); otherwise it takes the sorted
    distinct annotation timestamps and, if there are more than 50, every 5th from the first (a 2 Hz tracker
    log is used as is). The ground-truth pickles use exactly this grid.

    Args:
        annotation_timestamps_ns: timestamps of the log's annotation rows (any order, repeats allowed).
        log_id: the log, for the lookup in ``known``.
        known: ``{log_id: [timestamp_ns, ...]}`` as in RefAV's ``eval_timestamps.json``.

    Returns:
        (T,) sorted evaluation timestamps.
    """
    if known is not None and log_id is not None and log_id in known:
        return np.asarray(sorted(known[log_id]), dtype=np.int64)
    distinct = np.unique(np.asarray(annotation_timestamps_ns, dtype=np.int64))
    if distinct.size > MAX_TIMESTAMPS_KEPT_AS_IS:
        return distinct[::SUBSAMPLE_STEP]
    return distinct

"""One category per track: the majority of its boxes, each weighted by its score (1 without scores)."""

from __future__ import annotations

import numpy as np

from avmine.store.refine.tracks import Tracks


def categories(tracks: Tracks) -> tuple[Tracks, int]:
    """Every box of a track given the track's winning category, and the number of boxes changed."""
    if not len(tracks.track):
        return tracks, 0
    names, category = np.unique(tracks.category, return_inverse=True)
    labels, track = np.unique(tracks.track, return_inverse=True)
    weight = np.nan_to_num(tracks.score, nan=1.0) + 1e-9
    votes = np.zeros((len(labels), len(names)))
    np.add.at(votes, (track, category), weight)
    winner = names[np.argmax(votes, axis=1)][track]
    changed = int((winner != tracks.category).sum())
    return tracks.replace(category=winner.astype(tracks.category.dtype)), changed

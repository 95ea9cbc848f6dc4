"""Trajectory refinement: a new track source derived from a tracker's, with every box's provenance.

``avmine refine --source NAME`` runs these steps over each log, in this order (each can be left out):

1. ``yaw`` (``yaw.py``): no 180° flips: headings agree with the direction of motion for moving
   objects and with the track's own history for stopped ones.
2. ``split`` (``split.py``): a track whose velocity jumps by more than any vehicle can accelerate
   is cut there (where a tracker swapped two identities), so reconnection can join the right halves.
3. ``vote`` (``vote.py``): one category per track, the score-weighted majority of its boxes.
4. ``reconnect`` (``associate.py``): a track that ends is predicted forward and joined to a track that
   starts later when gated distance, heading, size and category agree (one global assignment).
5. ``backward`` (``associate.py``): the same association in reverse time: a track's start is predicted
   backward onto tracks that ended before it, short fragments and set-aside ghosts included.
6. ``ghosts`` (``ghosts.py``): short, low-score tracks that nothing joined are removed.
7. ``interpolate`` (``interpolate.py``): short gaps inside a track get interpolated boxes, marked as such.
8. ``smooth`` (``smooth.py``, ``imm.py``): an IMM filter (stationary, constant-velocity and constant-acceleration
   modes per category) and Kim's IMM smoother, or (``smoother=cv``) a constant-velocity Kalman/RTS smoother, over
   the positions of every track of a log at once.

``pipeline.py`` runs the steps on one log's boxes held in memory (``tracks.py``); ``derive.py`` reads
a source from the store and writes the refined source, its provenance and how it was made in one
transaction. Parameters and their SI units: ``params.RefineParams``.
"""

from __future__ import annotations

from avmine.store.refine.derive import RefineReport, refine
from avmine.store.refine.params import STEPS, RefineParams

__all__ = ["STEPS", "RefineParams", "RefineReport", "refine"]

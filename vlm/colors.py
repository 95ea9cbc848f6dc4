"""RefAV's colour cache, built by the VLM: ``<log cache>/cache/color_cache.json`` maps vehicle uuids to colours.

RefAV's ``is_color`` reads this file (objects missing from it pass), so a RefAV program gives
RefAV's answer; the VLM is only what fills it. Each vehicle's colour is the one named most often
over up to 3 views (None when the VLM names none of RefAV's six colours). Re-ingesting a log
replaces its cache directory: build the colours again afterwards.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from avmine.atomic.categories import VEHICLE_MEMBERS
from avmine.atomic.functions.objects import COLORS
from avmine.store.arrays import LogArrays
from avmine.vlm.answers import Choice
from avmine.vlm.functions import SAMPLES, spread, track_view
from avmine.vlm.service import Question, VlmService

QUESTION = "What is the main colour of the object in the magenta box?"


def color_cache_path(arrays: LogArrays) -> Path:
    """Where RefAV's is_color looks for the log's colours."""
    return arrays.log_dir / "cache" / "color_cache.json"


def build_color_cache(
    arrays: LogArrays,
    service: VlmService,
    source_path: Path | None = None,
    on_track: Callable[[str], None] | None = None,
) -> dict[str, str | None]:
    """Ask the VLM the colour of every vehicle in the log and write RefAV's colour cache; returns it."""
    colours: dict[str, str | None] = {}
    for track, (uuid, category) in enumerate(zip(arrays.track_uuids, arrays.track_categories, strict=True)):
        if str(category) not in VEHICLE_MEMBERS or str(uuid) == arrays.ego_uuid:
            continue
        rows = range(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
        times = sorted({int(arrays.row_time_index[r]) for r in rows})
        tiles = [t for t in (track_view(arrays, track, i, source_path) for i in spread(times, SAMPLES)) if t]
        answers = service.ask([Question((t.image,), QUESTION, "choice", tuple(COLORS)) for t in tiles])
        named = Counter(a.value for a in answers if isinstance(a, Choice) and a.value)
        colours[str(uuid)] = named.most_common(1)[0][0] if named else None
        if on_track:
            on_track(str(uuid))
    path = color_cache_path(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(colours, indent=1))
    staged.replace(path)  # whole or not at all: a reader never sees half a file
    return colours

"""Scene-level verification: does a run's result in a log look like the prompt? A yes/no on one panel.

The panel shows up to ``TRACKS`` of the run's referred objects (those referred longest), each at
the middle of its referred time on the camera that sees it best, boxed in magenta. Used by the
verify_scene tool and as a post-filter that empties the (log, prompt) pairs it rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from avmine.atomic.scenario import timestamps as scenario_timestamps
from avmine.store.arrays import LogArrays
from avmine.vlm.answers import YesNo
from avmine.vlm.functions import track_view
from avmine.vlm.overlay import Tile, panel
from avmine.vlm.service import VlmService

TRACKS = 4
QUESTION = (
    'A program looked for "{prompt}". The magenta boxes mark the objects it found, one per tile. '
    "Does every tile show what the description says?"
)


def scene_panel(arrays: LogArrays, scenario: dict[str, Any], source_path: Path | None = None) -> Image.Image | None:
    """The panel of a log's result: its longest-referred objects mid-way through their referred time."""
    index_of = {str(u): i for i, u in enumerate(arrays.track_uuids)}
    stamp_index = {int(t): i for i, t in enumerate(arrays.timestamps_ns)}
    referred = sorted(
        ((uuid, sorted(int(t) for t in scenario_timestamps(value))) for uuid, value in scenario.items()),
        key=lambda item: -len(item[1]),
    )
    tiles: list[Tile] = []
    for uuid, stamps in referred:
        if len(tiles) == TRACKS:
            break
        known = [stamp_index[t] for t in stamps if t in stamp_index]
        if uuid in index_of and known:
            tile = track_view(arrays, index_of[uuid], known[len(known) // 2], source_path)
            if tile is not None:
                tiles.append(tile)
    return panel(tiles, columns=2) if tiles else None


def verify_scene(
    arrays: LogArrays, scenario: dict[str, Any], prompt: str, service: VlmService, source_path: Path | None = None
) -> tuple[YesNo, Image.Image | None]:
    """The VLM's judgement of a log's result for a prompt, and the panel it judged (None: nothing found)."""
    image = scene_panel(arrays, scenario, source_path)
    if image is None:
        return YesNo(None, 0.0, "nothing was found in this log: nothing to verify"), None
    return service.yes_no([image], QUESTION.format(prompt=prompt)), image


def post_filter(
    scenarios: dict[str, dict[str, Any]],
    arrays_of: Callable[[str], LogArrays],
    prompt: str,
    service: VlmService,
    source_of: Callable[[str], Path | None] = lambda _: None,
) -> tuple[dict[str, dict[str, Any]], dict[str, YesNo]]:
    """A run's per-log scenarios with the logs the VLM rejects emptied; and each log's verdict.

    A log is emptied only on a clear "no": unclear answers keep the program's result.
    """
    kept: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, YesNo] = {}
    for log_id, scenario in scenarios.items():
        verdict, _ = verify_scene(arrays_of(log_id), scenario, prompt, service, source_of(log_id))
        verdicts[log_id] = verdict
        kept[log_id] = {} if verdict.value is False else scenario
    return kept, verdicts

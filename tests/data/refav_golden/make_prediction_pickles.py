"""Write RefAV's own prediction pickles for the demo ground-truth prompts (run in RefAV's environment).

    REFAV_REF=~/.cache/refav-reference $REFAV_REF/venv/bin/python make_prediction_pickles.py OUT_DIR

Each program below runs through RefAV's implementation with RefAV's real ``output_scenario`` on the
log its prompt is labelled for; the pickles it writes (``OUT_DIR/<log_id>/<prompt>_predictions.pkl``)
are what avmine's own output must score the same as.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REF = Path(os.environ.get("REFAV_REF", Path.home() / ".cache" / "refav-reference"))
sys.path.insert(0, str(REF / "refav"))

PROGRAMS = {
    ("3b3570b4-7b0b-3268-a571-b0889dbf40b6", "vehicle with a bicycle to its right"): (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "bicycles = get_objects_of_category(log_dir, category='BICYCLE')\n"
        "result = has_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right',\n"
        "                                           within_distance=10)\n"
        "output_scenario(result, description, log_dir, output_dir)\n"
    ),
    ("3bffdcff-c3a7-38b6-a0f2-64196d130958", "stopped car"): (
        "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
        "stopped = scenario_or([has_velocity(cars, log_dir, max_velocity=0.5), stationary(cars, log_dir)])\n"
        "output_scenario(stopped, description, log_dir, output_dir)\n"
    ),
}


def main(out_dir: Path) -> None:
    """Run every program through RefAV and let its output_scenario write the pickles."""
    import refAV.atomic_functions as af

    for (log_id, prompt), code in PROGRAMS.items():
        namespace = {k: getattr(af, k) for k in dir(af) if not k.startswith("_")}
        namespace.update(log_dir=REF / "logs" / log_id, output_dir=out_dir, description=prompt)
        exec(code, namespace)
        print(f"wrote {out_dir / log_id / (prompt + '_predictions.pkl')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())

"""``avmine score`` through its argparse registration."""

import argparse
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.server.cli import score


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="avmine")
    score.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_table_and_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = str(data_dir / "combined_predictions_dev.pkl"), str(data_dir / "combined_gt_dev.pkl")
    args = _parse(["score", pred, gt, "--dataset-dir", str(data_dir)])
    assert args.func(args) == 0
    table = capsys.readouterr().out
    assert "HOTA-Temporal   0.383166" in table and "stopped car" in table
    args = _parse(["score", pred, gt, "--json", "--max-range-m", "50", "--objective-metric", "HOTA"])
    assert args.func(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["metrics"]["HOTA-Track"] == pytest.approx(0.394139, abs=1e-6)
    assert {s["log_id"] for s in payload["sequences"]} == {p.name for p in data_dir.iterdir() if p.is_dir()}


def test_missing_map_is_a_clear_error(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(data_dir / "combined_gt_dev.pkl", tmp_path)
    args = _parse(
        [
            "score",
            str(data_dir / "combined_predictions_dev.pkl"),
            str(tmp_path / "combined_gt_dev.pkl"),
            "--dataset-dir",
            str(tmp_path),
        ]
    )
    assert args.func(args) == 2
    assert "no map directory" in capsys.readouterr().err


def test_a_temporal_only_submission_shows_no_hota_numbers(
    demo_gt: dict[Any, Any], data_dir: Path, tmp_path: Path
) -> None:
    def temporal(frame: dict[str, Any]) -> dict[str, Any]:
        boxes = {"translation_m": np.zeros((0, 3)), "size": np.zeros((0, 3)), "yaw": np.zeros(0)}
        ids = {"label": np.zeros(0, np.int32), "track_id": np.zeros(0, np.int32)}
        return {"timestamp_ns": frame["timestamp_ns"], "is_positive": bool((frame["label"] == 0).any()), **boxes, **ids}

    predictions = tmp_path / "temporal.pkl"
    predictions.write_bytes(pickle.dumps({key: [temporal(f) for f in frames] for key, frames in demo_gt.items()}))
    done = subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "score", str(predictions), str(data_dir / "combined_gt_dev.pkl"),
         "--dataset-dir", str(data_dir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "temporal-only submission (no track ids): HOTA is not computed"  # said first
    assert "HOTA-Temporal   -" in lines and "HOTA-Track      -" in lines
    assert "Timestamp BA    1.000000" in lines
    assert "0.0000" not in done.stdout and "0.000000" not in done.stdout  # no placeholder shown as a score

"""``avmine score`` through its argparse registration."""

import argparse
import json
import shutil
from pathlib import Path

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

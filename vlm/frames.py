"""Camera frames for an annotation timestamp: the real AV2 image when the log has one, else a synthetic one.

Real images live in the ingested log directory, ``sensors/cameras/<camera>/<timestamp_ns>.jpg``,
at 20 Hz; the one nearest the 10 Hz annotation timestamp is used (within ``MATCH_TOLERANCE_NS``),
with the ego pose at the *image's* timestamp so boxes land where the camera saw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from av2.geometry.camera.pinhole_camera import PinholeCamera
from PIL import Image
from scipy.spatial.transform import Rotation

from avmine.store.arrays import LogArrays
from avmine.vlm import synthetic
from avmine.vlm.cameras import RING_CAMERAS, cameras_of, ego_pose_at

MATCH_TOLERANCE_NS = 50_000_000
"""A camera image further than this from the annotation timestamp is not used (cameras run at 20 Hz)."""
LONG_SIDE_PX = 640
"""Frames are drawn (or scaled) to this many pixels on their long side: enough for a VLM, small to send."""


class FrameError(ValueError):
    """The frame cannot be made; the message says why."""


@dataclass(frozen=True)
class Frame:
    """One camera's view at one annotation timestamp."""

    camera_name: str
    time_index: int
    timestamp_ns: int
    """The image's own timestamp (the annotation timestamp for synthetic images)."""
    image: Image.Image
    camera: PinholeCamera
    """The camera model at the image's resolution."""
    pose: tuple[npt.NDArray[np.float64], Rotation]
    """city_SE3_ego at the image's timestamp."""
    synthetic: bool


@cache
def _camera_stamps(folder: Path) -> npt.NDArray[np.int64]:
    return np.array(sorted(int(p.stem) for p in folder.glob("*.jpg")), dtype=np.int64)


def nearest_image(source_path: Path | None, camera_name: str, timestamp_ns: int) -> tuple[Path, int] | None:
    """The camera image nearest a timestamp in a sensor log, with its timestamp; None when there is none."""
    if source_path is None:
        return None
    folder = source_path / "sensors" / "cameras" / camera_name
    stamps = _camera_stamps(folder) if folder.is_dir() else np.array([], np.int64)
    if not len(stamps):
        return None
    index = int(np.argmin(np.abs(stamps - timestamp_ns)))
    if abs(int(stamps[index]) - timestamp_ns) > MATCH_TOLERANCE_NS:
        return None
    return folder / f"{stamps[index]}.jpg", int(stamps[index])


def frame(arrays: LogArrays, camera_name: str, time_index: int, source_path: Path | None = None) -> Frame:
    """The view of ``camera_name`` at the log's ``time_index``-th annotation timestamp.

    Args:
        arrays: the log.
        camera_name: one of ``avmine.vlm.cameras.RING_CAMERAS``.
        time_index: index into the log's annotation timestamps.
        source_path: the log's dataset directory (for real images); None draws a synthetic frame.

    Raises:
        FrameError: an unknown camera or a timestamp index outside the log.
    """
    if camera_name not in RING_CAMERAS:
        raise FrameError(f"unknown camera {camera_name!r}; cameras: {', '.join(RING_CAMERAS)}")
    count = len(arrays.timestamps_ns)
    if not 0 <= time_index < count:
        raise FrameError(f"timestamp index {time_index} is outside 0..{count - 1} for log {arrays.log_id}")
    rig, _ = cameras_of(arrays)
    native = rig[camera_name]
    scale = LONG_SIDE_PX / max(native.width_px, native.height_px)
    camera = native.scale(scale)
    annotation_ns = int(arrays.timestamps_ns[time_index])
    real = nearest_image(source_path, camera_name, annotation_ns)
    if real is not None:
        path, image_ns = real
        image = Image.open(path).convert("RGB").resize((camera.width_px, camera.height_px))
        return Frame(camera_name, time_index, image_ns, image, camera, ego_pose_at(arrays, image_ns), False)
    pose = ego_pose_at(arrays, annotation_ns)
    image = synthetic.render(arrays, camera, pose, time_index)
    return Frame(camera_name, time_index, annotation_ns, image, camera, pose, True)

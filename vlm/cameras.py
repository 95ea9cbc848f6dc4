"""Camera geometry: the log's ring cameras (av2 pinhole models) and 3D boxes projected into them.

Boxes are annotated at 10 Hz in the city frame; camera frames come at 20 Hz. A box is brought
into a camera the way av2 compensates motion: city -> ego frame at the *camera's* timestamp
(the ego pose nearest to it) -> camera. Logs without calibration (the demo's scenario-mining
logs) use ``STANDARD_RIG``: the real calibration of an AV2 sensor log shipped with the demo data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from av2.geometry.camera.pinhole_camera import PinholeCamera
from scipy.spatial.transform import Rotation

from avmine.store.arrays import LogArrays
from avmine.store.demo import SENSOR_DIR

RING_CAMERAS = (
    "ring_front_center", "ring_front_left", "ring_front_right", "ring_side_left", "ring_side_right",
    "ring_rear_left", "ring_rear_right",
)  # fmt: skip
FRONT = "ring_front_center"
STANDARD_RIG = SENSOR_DIR / "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"
"""A log whose calibration stands in for logs that have none (AV2's ring rig is the same on every car)."""
NEAR_M = 0.5
"""Points nearer the camera plane than this (metres) are clipped: behind the camera or too close to draw."""
# corner order: front-left-top, front-right-top, back-right-top, back-left-top, then the same at the bottom
_CORNER_SIGNS = np.array(
    [[1, 1, 1], [1, -1, 1], [-1, -1, 1], [-1, 1, 1], [1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1]], float
)
EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
"""A cuboid's 12 edges as corner index pairs."""
FACES = ((0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (2, 3, 7, 6), (1, 2, 6, 5), (0, 3, 7, 4))
"""Top, bottom, front, back, right, left."""


@cache
def _rig(calibration_parent: Path) -> dict[str, PinholeCamera]:
    return {name: PinholeCamera.from_feather(calibration_parent, name) for name in RING_CAMERAS}


def cameras_of(arrays: LogArrays) -> tuple[dict[str, PinholeCamera], bool]:
    """The log's ring cameras, and whether they are its own calibration (False: the standard rig)."""
    own = arrays.log_dir / "log"
    if (own / "calibration" / "intrinsics.feather").is_file():
        return _rig(own), True
    return _rig(STANDARD_RIG), False


@dataclass(frozen=True)
class Projection:
    """A box's corners in one camera: pixels, depth along the optical axis, and whether it is in view."""

    uv: npt.NDArray[np.float64]  # (8, 2)
    depth_m: npt.NDArray[np.float64]  # (8,)
    visible: bool
    """Some part of the box is in front of the camera and inside the image."""


def corners_city(arrays: LogArrays, row: int) -> npt.NDArray[np.float64]:
    """The eight corners of a box (see ``EDGES``) in the city frame, shape (8, 3)."""
    half = np.asarray(arrays.size[row]) / 2
    rotation = Rotation.from_quat(np.asarray(arrays.quat_city[row]), scalar_first=True)
    return np.asarray(rotation.apply(_CORNER_SIGNS * half) + np.asarray(arrays.xyz_city[row]))


def ego_pose_at(arrays: LogArrays, timestamp_ns: int) -> tuple[npt.NDArray[np.float64], Rotation]:
    """city_SE3_ego at the pose nearest ``timestamp_ns`` (poses come at up to 200 Hz in sensor logs)."""
    folder = arrays.log_dir / "log"
    stamps = np.load(folder / "pose_timestamps_ns.npy", mmap_mode="r")
    index = int(np.clip(np.searchsorted(stamps, timestamp_ns), 1, len(stamps) - 1))
    index -= int(abs(int(stamps[index - 1]) - timestamp_ns) <= abs(int(stamps[index]) - timestamp_ns))
    xyz = np.asarray(np.load(folder / "pose_xyz_city.npy", mmap_mode="r")[index], dtype=float)
    quat = np.asarray(np.load(folder / "pose_quat_city.npy", mmap_mode="r")[index], dtype=float)
    return xyz, Rotation.from_quat(quat, scalar_first=True)


def city_to_ego(
    points_city: npt.NDArray[np.float64], pose: tuple[npt.NDArray[np.float64], Rotation]
) -> npt.NDArray[np.float64]:
    """City-frame points in the ego frame of ``pose`` (city_SE3_ego)."""
    translation, rotation = pose
    return np.asarray(rotation.inv().apply(points_city - translation))


def project(
    camera: PinholeCamera, points_ego: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixels (N, 2) and depths (N,) of ego-frame points; pixels of points behind the camera are NaN."""
    points_cam = to_camera(camera, points_ego)
    depth = points_cam[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (camera.intrinsics.K @ points_cam)[:2] / depth
    uv[:, depth < NEAR_M] = np.nan
    return uv.T, depth


def project_box(camera: PinholeCamera, corners_ego: npt.NDArray[np.float64]) -> Projection:
    """A box's corners in a camera; visible when an edge, clipped at the near plane, crosses the image."""
    uv, depth = project(camera, corners_ego)
    width, height = camera.width_px, camera.height_px
    visible = False
    for a, b in EDGES:
        segment = clip_segment(camera, corners_ego[a], corners_ego[b])
        if segment is None:
            continue
        (u0, v0), (u1, v1) = segment
        if max(u0, u1) >= 0 and min(u0, u1) < width and max(v0, v1) >= 0 and min(v0, v1) < height:
            visible = True
            break
    return Projection(uv, depth, visible)


def clip_segment(
    camera: PinholeCamera, a_ego: npt.NDArray[np.float64], b_ego: npt.NDArray[np.float64]
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """A 3D segment's image, cut where it passes behind the near plane; None when wholly behind."""
    cam = to_camera(camera, np.stack([a_ego, b_ego]))
    za, zb = cam[2]
    if za < NEAR_M and zb < NEAR_M:
        return None
    if za < NEAR_M or zb < NEAR_M:  # move the end behind the plane onto it
        t = (NEAR_M - za) / (zb - za)
        point = cam[:, 0] + t * (cam[:, 1] - cam[:, 0])
        if za < NEAR_M:
            cam[:, 0] = point
        else:
            cam[:, 1] = point
    uv = (camera.intrinsics.K @ cam)[:2] / cam[2]
    return (float(uv[0, 0]), float(uv[1, 0])), (float(uv[0, 1]), float(uv[1, 1]))


def to_camera(camera: PinholeCamera, points_ego: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ego-frame points (N, 3) in the camera frame, shape (3, N)."""
    return np.asarray(camera.extrinsics[:3, :3] @ points_ego.T + camera.extrinsics[:3, 3:4])


def clip_polygon(camera: PinholeCamera, polygon_ego: npt.NDArray[np.float64]) -> list[tuple[float, float]] | None:
    """A planar polygon's image, cut at the near plane (Sutherland-Hodgman on one plane); None when behind."""
    cam = to_camera(camera, polygon_ego).T
    kept: list[npt.NDArray[np.float64]] = []
    for i, current in enumerate(cam):
        previous = cam[i - 1]
        inside, was_inside = current[2] >= NEAR_M, previous[2] >= NEAR_M
        if inside != was_inside:
            t = (NEAR_M - previous[2]) / (current[2] - previous[2])
            kept.append(previous + t * (current - previous))
        if inside:
            kept.append(current)
    if len(kept) < 3:
        return None
    points = np.stack(kept).T
    uv = (camera.intrinsics.K @ points)[:2] / points[2]
    return [(float(u), float(v)) for u, v in uv.T]

"""Frame conversions for boxes and poses, vectorised over rows.

Names follow av2: ``city_SE3_ego`` maps points in the ego frame to the city
frame; arrays say their frame (``xyz_ego``, ``xyz_city``). Quaternions are
scalar-first ``(qw, qx, qy, qz)`` as in AV2's feather files.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from avmine.store.arrays import LogArrays
from avmine.store.typing import NDArrayFloat, NDArrayInt


def rotations(quat_wxyz: NDArrayFloat) -> Rotation:
    """Rotations from scalar-first quaternions of shape (N, 4)."""
    return Rotation.from_quat(np.array(quat_wxyz, dtype=np.float64), scalar_first=True)


def compose_ego_to_city(
    xyz_ego: NDArrayFloat,
    quat_ego: NDArrayFloat,
    pose_translation_city: NDArrayFloat,
    pose_quat_city: NDArrayFloat,
) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    """Express boxes given in the ego frame in the city frame.

    Args:
        xyz_ego: box centres in the ego frame at each row's timestamp, shape (N, 3).
        quat_ego: object -> ego rotations, scalar-first, shape (N, 4).
        pose_translation_city: ``city_SE3_ego`` translation at each row's timestamp, shape (N, 3).
        pose_quat_city: ``city_SE3_ego`` rotation at each row's timestamp, scalar-first, shape (N, 4).

    Returns:
        ``(xyz_city, quat_city, yaw_city)``: centres (N, 3), object -> city rotations (N, 4) and
        the city-frame heading in radians (N,), taken as RefAV does (first angle of the 'zxy'
        Euler decomposition of the object -> city rotation).
    """
    city_R_ego = rotations(pose_quat_city)
    # scipy writes into its inputs' buffers; pandas 3 hands out read-only views, so copy.
    xyz_city = city_R_ego.apply(np.array(xyz_ego, dtype=np.float64)) + pose_translation_city
    city_R_object = city_R_ego * rotations(quat_ego)
    quat_city = city_R_object.as_quat(scalar_first=True)
    yaw_city = city_R_object.as_euler("zxy")[:, 0]
    return xyz_city, quat_city, yaw_city


def city_to_ego(
    xyz_city: NDArrayFloat,
    yaw_city: NDArrayFloat,
    pose_translation_city: NDArrayFloat,
    pose_quat_city: NDArrayFloat,
) -> tuple[NDArrayFloat, NDArrayFloat]:
    """Express city-frame boxes (centre and heading only) in the ego frame.

    The ego-frame rotation is a pure yaw, as RefAV writes tracker boxes: the city
    heading is rotated by the inverse ego rotation and only the z angle of the
    'zxy' decomposition is kept.

    Args:
        xyz_city: box centres in the city frame, shape (N, 3).
        yaw_city: box headings in the city frame in radians, shape (N,).
        pose_translation_city: ``city_SE3_ego`` translation at each row's timestamp, shape (N, 3).
        pose_quat_city: ``city_SE3_ego`` rotation at each row's timestamp, scalar-first, shape (N, 4).

    Returns:
        ``(xyz_ego, quat_ego)``: centres (N, 3) and pure-yaw object -> ego rotations (N, 4).
    """
    ego_R_city = rotations(pose_quat_city).inv()
    xyz_ego = ego_R_city.apply(np.array(xyz_city, dtype=np.float64) - pose_translation_city)
    city_R_object = Rotation.from_euler("z", np.array(yaw_city, dtype=np.float64).reshape(-1, 1))
    yaw_ego = (ego_R_city * city_R_object).as_euler("zxy")[:, 0]
    quat_ego = Rotation.from_euler("z", yaw_ego.reshape(-1, 1)).as_quat(scalar_first=True)
    return xyz_ego, quat_ego


def central_velocity(
    xyz: NDArrayFloat, timestamps_ns: NDArrayInt, group_start: NDArrayInt, group_end: NDArrayInt
) -> NDArrayFloat:
    """Velocity of each row by a two-sided difference within its track, in m/s.

    Rows must be grouped by track and sorted by time inside each group. The stencil is
    ``(x[i+1] - x[i-1]) / (t[i+1] - t[i-1])``, one-sided at a track's ends; a single-row
    track has velocity zero. This is RefAV's raw first derivative before its median filter.

    Args:
        xyz: positions, shape (N, 3).
        timestamps_ns: row timestamps, shape (N,).
        group_start: index of the first row of each row's track, shape (N,).
        group_end: index of the last row of each row's track, shape (N,).

    Returns:
        Velocities of shape (N, 3).
    """
    index = np.arange(len(xyz))
    nxt = np.minimum(index + 1, group_end)
    prv = np.maximum(index - 1, group_start)
    dt_s = (timestamps_ns[nxt] - timestamps_ns[prv]).astype(np.float64) / 1e9
    velocity = np.zeros_like(xyz, dtype=np.float64)
    moving = dt_s > 0
    velocity[moving] = (xyz[nxt[moving]] - xyz[prv[moving]]) / dt_s[moving, None]
    return velocity


def with_city_poses(
    arrays: LogArrays, xyz_city: NDArrayFloat, yaw_city: NDArrayFloat, keep_tilt: bool = False
) -> LogArrays:
    """``arrays`` with new city-frame centres and headings, and every field derived from them redone.

    Rows keep their layout; the boxes become pure-yaw (as tracker boxes are) unless ``keep_tilt``,
    which turns each box about the vertical and keeps its pitch and roll (a box's footprint on
    the ground depends on them). Ego-frame poses and raw velocities follow from the new city poses
    and the log's ego poses.
    """
    time_index = np.asarray(arrays.row_time_index)
    ego_rotation = rotations(np.asarray(arrays.ego_quat_city)[time_index])
    xyz = np.array(xyz_city, dtype=np.float64)
    yaw = np.array(yaw_city, dtype=np.float64)
    rotation = Rotation.from_euler("z", yaw[:, None])
    if keep_tilt:
        turn = Rotation.from_euler("z", (yaw - np.asarray(arrays.yaw_city, dtype=np.float64))[:, None])
        rotation = turn * rotations(np.asarray(arrays.quat_city))
    start = np.asarray(arrays.track_start, dtype=np.int64)
    lengths = np.diff(start)
    return dataclasses.replace(
        arrays,
        xyz_city=xyz,
        quat_city=rotation.as_quat(scalar_first=True),
        yaw_city=yaw,
        xyz_ego=ego_rotation.inv().apply(xyz - np.asarray(arrays.ego_xyz_city)[time_index]),
        quat_ego=(ego_rotation.inv() * rotation).as_quat(scalar_first=True),
        velocity_city=central_velocity(
            xyz, np.asarray(arrays.row_timestamp_ns), np.repeat(start[:-1], lengths), np.repeat(start[1:] - 1, lengths)
        ),
    )

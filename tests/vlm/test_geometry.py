"""Projection with the demo log's real calibration, against av2's own camera model and known points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from av2.geometry.camera.pinhole_camera import PinholeCamera
from av2.geometry.se3 import SE3
from PIL import Image
from scipy.spatial.transform import Rotation

from avmine.store import Store
from avmine.vlm.cameras import (
    NEAR_M,
    RING_CAMERAS,
    cameras_of,
    city_to_ego,
    corners_city,
    ego_pose_at,
    project,
    project_box,
)
from avmine.vlm.frames import FrameError, frame
from avmine.vlm.overlay import draw_box, panel, row_at, track_tiles

SENSOR_LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"  # has its own calibration
SM_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"  # has none: the standard rig


def test_the_calibrated_log_uses_its_own_cameras_and_others_the_standard_rig(demo_store: Store) -> None:
    rig, own = cameras_of(demo_store.load_arrays(SENSOR_LOG))
    assert own and set(rig) == set(RING_CAMERAS)
    _, own = cameras_of(demo_store.load_arrays(SM_LOG))
    assert not own


def test_projection_matches_av2_and_known_points(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SENSOR_LOG)
    camera: PinholeCamera = cameras_of(arrays)[0]["ring_front_center"]
    rng = np.random.default_rng(0)
    points = rng.uniform([2, -20, -2], [80, 20, 5], size=(500, 3))
    uv, depth = project(camera, points)
    reference, cam, _ = camera.project_ego_to_img(points)
    in_front = cam[:, 2] >= NEAR_M  # nearer points are clipped (NaN) by avmine
    assert in_front.sum() > 400 and np.isnan(uv[~in_front]).all()
    np.testing.assert_allclose(uv[in_front], reference[in_front], atol=1e-6)
    np.testing.assert_allclose(depth, cam[:, 2], atol=1e-9)
    # a point on the optical axis lands on the principal point
    axis = camera.ego_SE3_cam.transform_point_cloud(np.array([[0.0, 0.0, 30.0]]))
    np.testing.assert_allclose(project(camera, axis)[0][0], [camera.intrinsics.cx_px, camera.intrinsics.cy_px])
    behind = np.array([[-10.0, 0.0, 1.0]])  # behind the front camera
    assert np.isnan(project(camera, behind)[0]).all()


def test_boxes_are_projected_with_motion_compensation_as_av2_does(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SENSOR_LOG)
    camera = cameras_of(arrays)[0]["ring_front_center"]
    t = 60
    annotation_ns = int(arrays.timestamps_ns[t])
    at_annotation = ego_pose_at(arrays, annotation_ns)
    np.testing.assert_allclose(at_annotation[0], arrays.ego_xyz_city[t], atol=1e-6)
    camera_ns = annotation_ns + 40_000_000  # a camera frame 40 ms later: the ego has moved
    at_camera = ego_pose_at(arrays, camera_ns)
    assert np.linalg.norm(at_camera[0] - at_annotation[0]) > 0.1
    rows = np.flatnonzero(np.asarray(arrays.row_time_index) == t)
    corners = np.concatenate([corners_city(arrays, int(row)) for row in rows])
    ours, _ = project(camera, city_to_ego(corners, at_camera))

    def se3(pose: tuple[np.ndarray, Rotation]) -> SE3:
        return SE3(pose[1].as_matrix(), pose[0])

    reference, cam, _ = camera.project_ego_to_img_motion_compensated(
        city_to_ego(corners, at_annotation), se3(at_camera), se3(at_annotation)
    )
    in_front = cam[:, 2] >= NEAR_M
    np.testing.assert_allclose(ours[in_front], reference[in_front], atol=1e-6)
    uncompensated, _ = project(camera, city_to_ego(corners, at_annotation))
    assert np.nanmax(np.abs(uncompensated[in_front] - ours[in_front])) > 1.0  # it matters: pixels move


def test_boxes_behind_or_outside_are_not_in_view(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SENSOR_LOG)
    camera = cameras_of(arrays)[0]["ring_front_center"]
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (0, 2)], float)
    assert project_box(camera, cube + np.array([20, 0, 0])).visible
    assert not project_box(camera, cube + np.array([-20, 0, 0])).visible  # behind
    assert not project_box(camera, cube + np.array([5, 60, 0])).visible  # far to the side, outside the image
    straddling = cube * [10, 1, 1] + [5, 0, 0]  # reaches behind the camera: clipped, still drawn
    assert project_box(camera, straddling).visible


def test_synthetic_frames_are_deterministic_and_show_the_candidate(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SM_LOG)
    first = frame(arrays, "ring_front_center", 80)
    again = frame(arrays, "ring_front_center", 80)
    assert first.synthetic and first.image.tobytes() == again.image.tobytes()
    assert max(first.image.size) == 640
    pixels = np.asarray(first.image)
    assert pixels[0].mean() > pixels[-1].mean()  # sky above, road below
    rotation = Rotation.from_quat(np.asarray(arrays.ego_quat_city[80]), scalar_first=True)
    assert np.allclose(first.pose[0], arrays.ego_xyz_city[80]) and np.allclose(
        first.pose[1].as_matrix(), rotation.as_matrix()
    )
    uuids = [str(u) for u in arrays.track_uuids]
    track = uuids.index("7bd6176d-1b50-4df6-833d-231f735f3b96")
    tiles = track_tiles(arrays, track, [0, 40, 80, 120])
    assert tiles and all(tile.box_in_view for tile in tiles)
    row = row_at(arrays, track, tiles[0].frame.time_index)
    assert row is not None
    boxed, in_view = draw_box(tiles[0].frame, arrays, row)
    assert in_view and boxed.tobytes() != tiles[0].frame.image.tobytes()
    sheet = panel(tiles, columns=2)
    assert sheet.width == 2 * 320
    ego_tiles = track_tiles(arrays, uuids.index(arrays.ego_uuid), [10])
    assert [t.frame.camera_name for t in ego_tiles] == ["ring_front_center"] and not ego_tiles[0].box_in_view


def test_bad_frame_requests_say_what_is_allowed(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SM_LOG)
    with pytest.raises(FrameError, match="unknown camera 'front'; cameras: ring_front_center"):
        frame(arrays, "front", 0)
    with pytest.raises(FrameError, match=r"outside 0\.\.156"):
        frame(arrays, "ring_front_center", 999)


def test_real_images_are_matched_to_annotations_within_tolerance(demo_store: Store, tmp_path: Path) -> None:
    arrays = demo_store.load_arrays(SENSOR_LOG)
    folder = tmp_path / "sensors" / "cameras" / "ring_front_center"
    folder.mkdir(parents=True)
    annotation_ns = int(arrays.timestamps_ns[40])
    near_ns, far_ns = annotation_ns + 24_000_000, int(arrays.timestamps_ns[80]) + 70_000_000  # 20 Hz frames
    for stamp in (near_ns, far_ns):
        Image.new("RGB", (1550, 2048), (10, 200, 10)).save(folder / f"{stamp}.jpg")
    real = frame(arrays, "ring_front_center", 40, tmp_path)
    assert not real.synthetic and real.timestamp_ns == near_ns
    assert np.asarray(real.image)[10, 10, 1] > 150  # the image on disk, scaled
    assert np.allclose(real.pose[0], ego_pose_at(arrays, near_ns)[0])  # the pose at the image's time
    assert not np.allclose(real.pose[0], ego_pose_at(arrays, annotation_ns)[0])
    assert frame(arrays, "ring_front_center", 80, tmp_path).synthetic  # 70 ms away: no image matches
    assert frame(arrays, "ring_front_left", 40, tmp_path).synthetic  # no images for that camera

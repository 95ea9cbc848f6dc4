"""A deterministic synthetic camera image for logs without camera images (the demo logs).

Drawn from the real calibration and the log's own data: sky, a ground plane that is asphalt on
the map's drivable area and grass elsewhere, pedestrian crossings, lane markings from the map,
and every annotated box as a shaded cuboid coloured by category, painted far to near. The same
inputs give the same pixels, so the whole VLM pipeline runs and is tested end to end.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from av2.geometry.camera.pinhole_camera import PinholeCamera
from av2.map.lane_segment import LaneMarkType
from av2.map.map_api import ArgoverseStaticMap
from matplotlib.path import Path as PolygonPath
from PIL import Image, ImageDraw
from scipy.spatial.transform import Rotation

from avmine.atomic.categories import CATEGORY_COLOURS, OTHER_COLOUR
from avmine.store.arrays import LogArrays
from avmine.vlm.cameras import FACES, city_to_ego, clip_polygon, clip_segment, corners_city, to_camera

SKY = np.array([176, 206, 235], float)
ASPHALT = np.array([92, 92, 96], float)
GRASS = np.array([96, 128, 80], float)
CROSSING = (205, 205, 200)
YELLOW_MARKS = {mark for mark in LaneMarkType if "YELLOW" in mark.name}
STEP = 4
"""Ground and sky are shaded per STEP x STEP block of pixels."""
DRAW_RANGE_M = 120.0
"""Map features and boxes farther than this from the ego are not drawn."""
_SHADE = (1.15, 0.55, 0.95, 0.75, 0.85, 0.85)  # per face of vlm.cameras.FACES: top lit, sides darker


@cache
def _map(map_dir: Path) -> ArgoverseStaticMap:
    return ArgoverseStaticMap.from_map_dir(map_dir, build_raster=False)


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def render(
    arrays: LogArrays, camera: PinholeCamera, pose: tuple[npt.NDArray[np.float64], Rotation], time_index: int
) -> Image.Image:
    """The synthetic image of ``camera`` (already scaled to the output size) with the ego at ``pose``.

    Args:
        arrays: the log.
        camera: the camera model, at the resolution to draw.
        pose: city_SE3_ego at the frame's time.
        time_index: the annotation timestamp whose boxes are drawn.
    """
    avm = _map(arrays.map_dir)
    image = Image.fromarray(_ground_and_sky(avm, camera, pose))
    draw = ImageDraw.Draw(image)
    origin = pose[0]

    def near(points_city: npt.NDArray[np.float64]) -> bool:
        return bool(np.min(np.linalg.norm(points_city[:, :2] - origin[:2], axis=1)) < DRAW_RANGE_M)

    for crossing in avm.vector_pedestrian_crossings.values():
        polygon = np.asarray(crossing.polygon, float)
        if near(polygon):
            polygon = polygon.copy()
            polygon[:, 2] = origin[2] + 0.02  # on the ground the ego stands on: map heights can be off
            shape = clip_polygon(camera, city_to_ego(polygon, pose))
            if shape:
                draw.polygon(shape, fill=CROSSING)
    for lane in avm.vector_lane_segments.values():
        for boundary, mark in ((lane.left_lane_boundary, lane.left_mark_type),
                               (lane.right_lane_boundary, lane.right_mark_type)):  # fmt: skip
            if mark == LaneMarkType.NONE:
                continue
            points = np.asarray(boundary.xyz, float).copy()
            if not near(points):
                continue
            points[:, 2] = origin[2]
            ego = city_to_ego(points, pose)
            colour = (230, 200, 40) if mark in YELLOW_MARKS else (240, 240, 240)
            for a, b in itertools.pairwise(ego):
                segment = clip_segment(camera, a, b)
                if segment:
                    draw.line(segment, fill=colour, width=2)
    _draw_boxes(draw, arrays, camera, pose, time_index)
    return image


def _ground_and_sky(
    avm: ArgoverseStaticMap, camera: PinholeCamera, pose: tuple[npt.NDArray[np.float64], Rotation]
) -> npt.NDArray[np.uint8]:
    # shaded in blocks of STEP x STEP pixels: the ground is smooth, and 16x fewer map lookups
    width, height = camera.width_px, camera.height_px
    u, v = np.meshgrid(np.arange(0, width, STEP) + STEP / 2, np.arange(0, height, STEP) + STEP / 2)
    rays_cam = np.linalg.inv(camera.intrinsics.K) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    ego_from_cam = np.linalg.inv(camera.extrinsics)
    rays = (ego_from_cam[:3, :3] @ rays_cam).T
    centre = ego_from_cam[:3, 3]
    pixels = np.tile(SKY, (u.size, 1)) * (0.85 + 0.15 * np.clip(rays[:, 2:3] * 4, 0, 1))
    ground = rays[:, 2] < -1e-3
    reach = -centre[2] / rays[ground, 2]
    hits = centre + reach[:, None] * rays[ground]
    hits_city = pose[1].apply(hits) + pose[0]
    drivable = np.zeros(len(hits), bool)
    for area in avm.vector_drivable_areas.values():
        outline = np.asarray(area.xyz, float)[:, :2]
        drivable |= PolygonPath(outline).contains_points(hits_city[:, :2])
    colour = np.where(drivable[:, None], ASPHALT, GRASS)
    fade = np.clip(reach / 150.0, 0, 1)[:, None]  # far ground fades towards the horizon's haze
    pixels[ground] = colour * (1 - 0.5 * fade) + SKY * 0.5 * fade
    blocks = pixels.reshape(u.shape[0], u.shape[1], 3).repeat(STEP, axis=0).repeat(STEP, axis=1)
    return np.asarray(blocks[:height, :width].clip(0, 255), dtype=np.uint8)


def _draw_boxes(
    draw: ImageDraw.ImageDraw,
    arrays: LogArrays,
    camera: PinholeCamera,
    pose: tuple[npt.NDArray[np.float64], Rotation],
    time_index: int,
) -> None:
    faces: list[tuple[float, list[tuple[float, float]], tuple[int, int, int]]] = []
    for row in np.flatnonzero(np.asarray(arrays.row_time_index) == time_index):
        track = int(arrays.row_track[row])
        if str(arrays.track_uuids[track]) == arrays.ego_uuid:
            continue  # the ego has no box in its own cameras
        corners = city_to_ego(corners_city(arrays, int(row)), pose)
        if np.linalg.norm(corners.mean(0)[:2]) > DRAW_RANGE_M:
            continue
        base = np.array(_hex(CATEGORY_COLOURS.get(str(arrays.track_categories[track]), OTHER_COLOUR)), float)
        for face, shade in zip(FACES, _SHADE, strict=True):
            polygon = corners[list(face)]
            shape = clip_polygon(camera, polygon)
            if shape:
                depth = float(to_camera(camera, polygon)[2].mean())
                fill = tuple(int(c) for c in np.clip(base * shade, 0, 255))
                faces.append((depth, shape, (fill[0], fill[1], fill[2])))
    for _, shape, fill in sorted(faces, key=lambda face: -face[0]):  # painter's order: far first
        draw.polygon(shape, fill=fill, outline=(30, 30, 30))

"""Map layer of the atomic runtime: RefAV's map primitives as pure functions over one av2 map.

* :mod:`avmine.atomic.map.geometry` — footprints, SAT overlap, footprint distance, ray casting, dilation.
* :mod:`avmine.atomic.map.lanes` — :class:`MapIndex`: lane lookup, lane assignment, lane graph.
* :mod:`avmine.atomic.map.regions` — :class:`MapRegions`: drivable area, crossings, intersections; lane position.
"""

from avmine.atomic.map.geometry import (
    PolygonSet,
    box_footprints,
    box_footprints_3d,
    dilate_polygon,
    footprint_distance,
    points_in_polygon,
    polygons_overlap,
    polygons_overlap_matrix,
)
from avmine.atomic.map.lanes import NO_LANE, MapIndex, Ragged
from avmine.atomic.map.regions import (
    MapRegions,
    at_pedestrian_crossing_fixed,
    at_pedestrian_crossing_refav,
    crossing_overlaps,
    lane_position,
)

__all__ = [
    "NO_LANE",
    "MapIndex",
    "MapRegions",
    "PolygonSet",
    "Ragged",
    "at_pedestrian_crossing_fixed",
    "at_pedestrian_crossing_refav",
    "box_footprints",
    "box_footprints_3d",
    "crossing_overlaps",
    "dilate_polygon",
    "footprint_distance",
    "lane_position",
    "points_in_polygon",
    "polygons_overlap",
    "polygons_overlap_matrix",
]

"""Which functions a prompt needs, and which of its behaviours no function covers.

A lexicon of behaviours (the phrases that name them, and the functions that express them) is
matched against prompts. A behaviour with no functions is a measured gap: the next function to
write. The lexicon lists gaps on purpose (merging, yielding, cutting in, ...) so that they are
counted, not guessed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from avmine.atomic.categories import prompt_categories


@dataclass(frozen=True)
class Behaviour:
    """A behaviour, the phrases that name it (regular expressions), and the functions for it."""

    name: str
    phrases: str
    functions: tuple[str, ...] = ()


LEXICON: tuple[Behaviour, ...] = (
    Behaviour("u-turn", r"\bu[- ]?turn", ("u_turn",)),
    Behaviour("three-point turn", r"three[- ]point turn|\bk[- ]turn", ("three_point_turn",)),
    Behaviour("turning", r"\bturn(s|ing|ed)?\b(?! (only|lane))|\b(left|right)[- ]turn", ("turning", "robust_turning")),
    Behaviour("changing lanes", r"chang\w* lanes?|lane[- ]chang", ("changing_lanes",)),
    Behaviour("merging", r"\bmerg", ("merging",)),
    Behaviour("cutting in", r"\bcut(s|ting)? (in|off)\b", ("cutting_in",)),
    Behaviour("yielding", r"\byield|giv(e|es|ing) way", ("yielding",)),
    Behaviour("braking", r"\bbrak(e|es|ing)\b|hard stop", ("braking",)),
    Behaviour("accelerating", r"accelerat|speeding up", ("accelerating", "robust_accelerating")),
    Behaviour("slowing", r"decelerat|slow(s|ing)? down|slowing", ("accelerating", "robust_accelerating")),
    Behaviour("reversing", r"\brevers|\bback(s|ing)? up", ("reversing",)),
    Behaviour("double parking", r"double[- ]park", ("double_parked",)),
    Behaviour("side parking", r"parallel[- ]park|side[- ]park", ("parallel_parking",)),
    Behaviour("parked", r"\bpark(ed|ing)?\b", ("stationary", "robust_stationary")),
    Behaviour("stopped", r"\bstop(s|ped|ping)?\b(?! sign)|\bwaiting\b", ("has_velocity", "robust_has_velocity")),
    Behaviour(
        "speed",
        r"\bfast\b|speeding|high speed|\bslow\b|moving|\bwalking\b|\brunning\b",
        ("has_velocity", "robust_has_velocity"),
    ),
    Behaviour("overtaking", r"overtak", ("overtaking", "being_overtaken")),
    Behaviour("passing", r"\bpass(es|ing|ed)?\b", ("passing",)),
    Behaviour("following", r"\bfollow", ("following",)),
    Behaviour("crossing in front", r"\bcross(es|ing)?\b(?! ?walk)", ("being_crossed_by",)),
    Behaviour("at a crosswalk", r"crosswalk|pedestrian crossing|zebra", ("at_pedestrian_crossing",)),
    Behaviour("jaywalking", r"jaywalk", ("on_road", "at_pedestrian_crossing", "scenario_not")),
    Behaviour("intersection", r"intersection", ("on_intersection", "near_intersection")),
    Behaviour("stop sign", r"stop sign", ("at_stop_sign",)),
    Behaviour("bus or bike lane", r"bus lane|bike lane|bicycle lane", ("on_lane_type",)),
    Behaviour("turn-only lane", r"turn[- ]only|turning lane", ("on_turn_only_lane",)),
    Behaviour("shoulder", r"shoulder", ("on_shoulder",)),
    Behaviour("wrong-way driving", r"wrong[- ]way|against (the )?traffic|wrong side of the road", ("wrong_way",)),
    Behaviour(
        "entering or leaving the road",
        r"enter(s|ing)? the road|leav(es|ing) the road|pull(s|ing)? (out|over)|step(s|ping)? (onto|off)",
        ("entering_drivable_area", "leaving_drivable_area"),
    ),
    Behaviour(
        "stopping in an odd place",
        r"stop\w* (in|on) (the |an? )?(intersection|crosswalk)|block(s|ing)",
        ("special_stopping",),
    ),
    Behaviour("off the road", r"sidewalk|off[- ]road|drivable|on the road", ("in_drivable_area", "on_road")),
    Behaviour("same lane", r"same lane|in (their|its|his|her) lane", ("in_same_lane",)),
    Behaviour("lane splitting", r"lane[- ]splitting|between (the )?lanes", ("lane_splitting",)),
    Behaviour("side of the road", r"side of the road|opposite side", ("on_relative_side_of_road",)),
    Behaviour(
        "relative direction",
        r"in front of|ahead of|\bbehind\b|to (its|the) (left|right)|on (its|the) "
        r"(left|right)|\bbeside\b|next to|\bbetween\b",
        ("has_objects_in_relative_direction", "get_objects_in_relative_direction"),
    ),
    Behaviour("near", r"\bnear\b|close to|nearby|\bmultiple\b|\bgroup of\b", ("near_objects",)),
    Behaviour("heading toward", r"heading toward|approach|facing", ("heading_toward", "facing_toward")),
    Behaviour("oncoming", r"oncoming|opposite direction|same direction", ("heading_in_relative_direction_to",)),
    Behaviour("swerving", r"swerv|lateral", ("has_lateral_acceleration",)),
    Behaviour(
        "entering or leaving a vehicle",
        r"(get(s|ting)?|climb(s|ing)?) (in|into|out of)|"
        r"(enter|exit)(s|ing)? (a |the )?(car|vehicle)",
        ("getting_in", "getting_out"),
    ),
    Behaviour("carrying or pushing", r"carr(y|ies|ying)|push(es|ing)?\b|\bpulling\b", ("moved_by_person",)),
    Behaviour("colour", r"\b(red|blue|white|black|silver|grey|gray|green|yellow)\b(?! light)", ("is_color",)),
    Behaviour("occluded", r"occlud|hidden|obstruct", ("is_occluded_by",)),
    Behaviour("traffic light", r"traffic light|red light|green light", ("at_traffic_lights",)),
    # no function yet: lights and gestures are not in the boxes, towing and loading not modelled
    Behaviour("lights or signals", r"turn signal|blinker|indicator|hazard|brake lights|siren|flashing"),
    Behaviour("gesturing", r"\bwav(e|es|ing)\b|gestur|direct(s|ing) traffic"),
    Behaviour("towing", r"\btow(s|ed|ing)?\b"),
    Behaviour("loading or unloading", r"\b(un)?load(s|ing)?\b|deliver(y|ing)"),
    Behaviour("door open", r"door(s)? (is |are )?open|open(s|ing)? (a |the |its )?door"),
)


@dataclass(frozen=True)
class PromptCoverage:
    """What a prompt needs: its object categories, the behaviours it names, their functions, and gaps."""

    prompt: str
    categories: list[str]
    behaviours: list[str]
    functions: list[str]
    uncovered: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        """Every behaviour it names has a function."""
        return not self.uncovered


def prompt_coverage(prompt: str) -> PromptCoverage:
    """Match one prompt against the lexicon."""
    text = prompt.lower()
    found = [b for b in LEXICON if re.search(b.phrases, text)]
    functions = ["get_objects_of_category"] + [f for b in found for f in b.functions]
    return PromptCoverage(
        prompt=prompt,
        categories=prompt_categories(prompt),
        behaviours=[b.name for b in found],
        functions=list(dict.fromkeys(functions)),
        uncovered=[b.name for b in found if not b.functions],
    )


def gaps(coverages: list[PromptCoverage]) -> Counter[str]:
    """How many prompts name each uncovered behaviour."""
    return Counter(name for coverage in coverages for name in coverage.uncovered)

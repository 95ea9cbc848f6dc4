"""Programs that pick tracks by id text or position are refused, each with its reason; filtering programs pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from avmine.atomic.honesty import TrackPickingError, check_honest
from avmine.atomic.program import ProgramError, prepare
from avmine.atomic.track_picking import picked_tracks
from avmine.store.demo_data.programs import PROGRAMS

ROOT = Path(__file__).parents[2]
HEAD = "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
TAIL = "output_scenario(found, description, log_dir, output_dir)\n"


def reasons(body: str) -> list[str]:
    return picked_tracks(prepare(HEAD + body + TAIL))


ATTEMPTS = [
    ("found = {sorted(cars)[17]: []}\n", "picks tracks by their position"),
    ("found = {list(cars)[3]: []}\n", "picks tracks by their position"),
    ("found = dict(list(cars.items())[:2])\n", "picks tracks by their position"),
    ("first = list(cars.values())[0]\nfound = {k: v for k, v in cars.items() if v == first}\n",
     "picks tracks by their position"),
    ("ids = sorted(cars)\nn = len(ids) // 2\nfound = {ids[n]: []}\n", "picks tracks by their position"),
    ("def pick(s):\n    return list(s)[3]\nfound = {pick(cars): []}\n", "picks tracks by their position"),
    ("found = {next(iter(cars)): []}\n", "next() takes the first track"),
    ("found = {min(cars): []}\n", "min() picks one track"),
    ("found = {max(cars, key=lambda k: len(cars[k])): []}\n", "max() picks one track"),
    ("found = {k: v for i, (k, v) in enumerate(cars.items()) if i == 3}\n", "enumerate() numbers tracks"),
    ("found = {k: cars[k] for i, k in zip(range(9), cars) if i == 4}\n", "zip() numbers tracks"),
    ("k, v = cars.popitem()\nfound = {k: v}\n", ".popitem() takes a track"),
    ("found = {k: v for k, v in cars.items() if k.startswith(description)}\n", ".startswith() works on the text"),
    ("found = {k: v for k, v in cars.items() if k[:8] == description}\n", "indexes or slices the text"),
    ("found = {k: v for k, v in cars.items() if f'{k}'[0] == description}\n", "indexes or slices the text"),
    ("part = description[:4]\nfound = {k: v for k, v in cars.items() if part in k}\n", "tests for text inside"),
    ("found = {k: v for k, v in cars.items() if 'xz' in k}\n", "tests for text inside"),
    ("found = {k: v for k, v in cars.items() if k == 'car-one'}\n", "compares a track or log id with a string"),
    ("found = {k: v for k, v in cars.items() if k in ('x1', 'y2')}\n", "compares a track or log id with a string"),
    ("found = {k: v for k, v in cars.items() if hash(k) % 7 == 3}\n", "hash() computes on the text"),
    ("found = {k: v for k, v in cars.items() if int(k.replace('-', ''), 16) % 2}\n", ".replace() works on the text"),
    ("found = cars if log_dir.name == 'log-one' else {}\n", "compares a track or log id with a string"),
    ("found = cars if str(log_dir).endswith('x') else {}\n", ".endswith() works on the text"),
    ("found = {'car': cars['car-one']}\n", "looks a track up by a literal key"),
    ("import itertools\nfound = dict(itertools.islice(cars.items(), 3, 4))\n", "itertools.islice() over the tracks"),
    ("import functools\nfound = {functools.reduce(lambda a, b: a, cars): []}\n", "functools.reduce() over the tracks"),
    ("import numpy as np\nfound = {np.random.choice(list(cars)): []}\n", "np.random.choice() over the tracks"),
    ("found = {k: v for k, v in cars.items() if k in ['e9e3b96a']}\n", "'e9e3b96a' reads as a fragment"),
    ("text = str(sorted(cars))[2:38]\nfound = {k: v for k, v in cars.items() if k == text}\n",
     "indexes or slices the text"),
    ("found = {k: v for k, v in cars.items() if k == ''.join(cars)[:36]}\n", "indexes or slices the text"),
    ("found = {k: v for k, v in cars.items() if k == ('%s' % cars)[2:38]}\n", "indexes or slices the text"),
    ("for k in cars:\n    break\nfound = {k: cars[k]}\n", "leaves a loop over tracks early"),
    ("def first(s):\n    for k in s:\n        return k\nfound = {first(cars): []}\n", "leaves a loop over tracks"),
    ("prefix = '05b9'\nfound = cars\n", "'05b9' reads as a fragment"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), ATTEMPTS, ids=[a[1][:30] + str(i) for i, a in enumerate(ATTEMPTS)])
def test_each_way_of_picking_a_track_is_refused_with_its_reason(body: str, message: str) -> None:
    found = reasons(body)
    assert any(message in reason for reason in found), found
    assert all(re.match(r"line \d+: ", reason) for reason in found)
    with pytest.raises(TrackPickingError, match="picks tracks instead of filtering them") as refused:
        check_honest(HEAD + body + TAIL)
    assert "atomic functions" in str(refused.value)  # it says what to do instead


FILTERS = [
    "found = {k: v for k, v in cars.items() if len(v) >= 10}\n",
    "found = {k: v for k, v in cars.items() if v[-1] - v[0] > 3e9 and min(v) > 0}\n",
    "parked = stationary(cars, log_dir)\nfound = {k: v for k, v in cars.items() if k not in parked}\n",
    "rel = near_objects(cars, cars, log_dir)\n"
    "found = {k: {j: t for j, t in r.items() if j != k} for k, r in rel.items()}\n",
    "longest = max(len(v) for v in cars.values())\nfound = {k: v for k, v in cars.items() if len(v) == longest}\n",
    "import copy\nfound = scenario_or([copy.deepcopy(cars), stationary(cars, log_dir)])\n",
    "def long_enough(s, n):\n    return {k: v for k, v in s.items() if len(v) >= n}\nfound = long_enough(cars, 5)\n",
    "found = {}\nfor k in cars:\n    if k in stationary(cars, log_dir):\n        found[k] = cars[k]\n",
    "found = cars if 'stopped' in description else {}\n",
    "def any_long(s):\n    for k in s:\n        if len(s[k]) > 9:\n            return True\n    return False\n"
    "found = cars if any_long(cars) else {}\n",
    "found = {}\nfor k, v in cars.items():\n    for t in v:\n        if t > 0:\n            break\n    found[k] = v\n",
    "description = 'dead beef face'\nfound = scenario_not(stationary)(cars, log_dir)\n",
]


@pytest.mark.parametrize("body", FILTERS)
def test_filters_over_every_track_pass(body: str) -> None:
    assert reasons(body) == []
    check_honest(HEAD + body + TAIL)


def _shipped_programs() -> list[str]:
    texts = [ROOT / "store/demo_data/refav_examples.txt", ROOT / "README.md"]
    texts += sorted((ROOT / "tests/data/refav_golden").glob("*.md"))
    found = [m for path in texts for m in re.findall(r"```python\n(.*?)```", path.read_text(), re.S)]
    golden = json.loads((ROOT / "tests/data/refav_golden/examples.json").read_text())["programs"]
    return found + [p["code"] for p in golden] + list(PROGRAMS.values())


def test_every_shipped_refav_program_passes() -> None:
    checked = 0
    for text in _shipped_programs():
        try:
            tree = prepare(text)
        except ProgramError:
            continue  # fragments of a program in the README, or RefAV's own broken quotes
        assert picked_tracks(tree) == [], text
        checked += 1
    assert checked >= 100

"""Each atomic function is declared once; every view of it (the lifted function, the docs, the program's
scope, the robust variant, the VLM table) is derived from that declaration and agrees with it."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine import atomic
from avmine.atomic import docs
from avmine.atomic import functions as atomic_functions
from avmine.atomic.algebra import scenario_not
from avmine.atomic.functions import (
    EXTENSION_KINDS,
    FUNCTIONS,
    map_mask_functions,
    register_functions,
    robust,
    robust_relations,
)
from avmine.atomic.functions.map import map_mask_keys
from avmine.atomic.functions.robust import SPELL_DOCS
from avmine.atomic.lifting import unary
from avmine.atomic.listing import KINDS, LISTED, listed, unlist
from avmine.atomic.validation import ArgumentError
from avmine.vlm import functions as vlm_functions
from avmine.vlm import program_functions
from tests.atomic._support import LOG_DIR, FakeLog

ROOT = Path(atomic.__file__).parent.parent
DECLARING_MODULES = [
    *sorted(Path(atomic_functions.__file__).parent.glob("*.py")),
    ROOT / "atomic" / "algebra.py",
    ROOT / "atomic" / "output.py",
    ROOT / "vlm" / "program_functions.py",
    ROOT / "vlm" / "functions.py",
]
"""Where functions are declared, and where tables of them used to be kept."""


def _top_level_names(path: Path) -> Iterator[tuple[str, str]]:
    """(name, kind) of each function defined or assigned at the top of a module."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, "def"
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield target.id, "assign"


def _string_constants(path: Path) -> set[str]:
    """String literals of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_function_is_declared_twice() -> None:
    where: dict[str, list[str]] = {}
    for path in DECLARING_MODULES:
        for name, _ in _top_level_names(path):
            where.setdefault(name, []).append(path.name)
    for name in FUNCTIONS:
        assert len(where.get(name, [])) == 1, f"{name} is declared in {where.get(name)}; declare it once"
        # a stub beside its rule: the rule under another name of the same function
        for twin in (f"{name}_rule", f"_{name}_rule"):
            assert twin not in where, f"{name} has a second declaration, {twin}, in {where[twin]}"
    # tables keyed by function names (FUNCTIONS, the VLM table) are derived, not written out again
    for path in (ROOT / "vlm" / "functions.py", ROOT / "vlm" / "program_functions.py", ROOT / "vlm" / "broker.py"):
        named = _string_constants(path) & set(program_functions.DECLARED)
        assert not named, f"{path.name} names {sorted(named)} again instead of deriving them from the declarations"


def test_every_declared_function_is_listed() -> None:
    # a lifted declaration without @listed would be in no program's scope
    modules = [m for m in vars(atomic_functions).values() if inspect.ismodule(m)]
    assert len(modules) >= 11
    for module in modules:
        for name, func in vars(module).items():
            if hasattr(func, "rule") and func.__module__ == module.__name__ and not name.startswith("_"):
                assert FUNCTIONS.get(name) is func, f"{module.__name__}.{name} is declared but not @listed"
    assert set(LISTED) == set(FUNCTIONS)
    assert all(LISTED[name].func is func for name, func in FUNCTIONS.items())


def test_the_docs_order_is_the_declared_places() -> None:
    kinds = list(dict.fromkeys([*KINDS, *(entry.kind for entry in LISTED.values())]))
    entries = [LISTED[name] for name in FUNCTIONS]
    assert [kinds.index(e.kind) for e in entries] == sorted(kinds.index(e.kind) for e in entries)
    for kind in KINDS:
        places = [e.position for e in entries if e.kind == kind]
        # every function of this package has its place, one each, counted from 1 in the order served
        assert places == list(range(1, len(places) + 1)), kind
    # RefAV's own order, that of its atomic_functions.py, starts with these
    assert list(FUNCTIONS)[:3] == ["has_objects_in_relative_direction", "get_objects_in_relative_direction",
                                   "get_objects_of_category"]  # fmt: skip
    assert {name for name in FUNCTIONS if name not in EXTENSION_KINDS} == {
        name for name, entry in LISTED.items() if entry.kind == "RefAV"
    }


def test_workers_warm_the_map_masks_of_the_functions_declared_to_read_them() -> None:
    flagged = map_mask_functions()
    assert flagged == {"in_drivable_area", "near_intersection", "at_pedestrian_crossing"}
    # each default mask (a per_row key, named for its function) belongs to a declared reader, and back
    assert {key[0] for key in map_mask_keys()} == flagged
    names = _string_constants(ROOT / "server" / "executor" / "log_contexts.py")
    assert not names & set(FUNCTIONS), "log_contexts.py names functions instead of reading their declarations"
    # what the worker does with them: tests/atomic_runtime/test_map_features.py


def test_a_name_cannot_be_registered_twice() -> None:
    def has_velocity(track_candidates: Any, log_dir: Path) -> Any:
        return track_candidates

    with pytest.raises(ValueError, match="has_velocity"):
        register_functions({"has_velocity": has_velocity}, "behaviour")
    with pytest.raises(ValueError, match="in_zone"):
        register_functions({"in_zone": has_velocity}, "behaviour")
    with pytest.raises(ValueError, match="own name"):
        register_functions({"something_else": has_velocity}, "behaviour")
    register_functions({"in_zone": FUNCTIONS["in_zone"]}, EXTENSION_KINDS["in_zone"])  # the same one again is fine
    assert FUNCTIONS["has_velocity"] is not has_velocity


def _params(func: Callable[..., Any]) -> list[inspect.Parameter]:
    return list(inspect.signature(func).parameters.values())


def _after_log_dir(func: Callable[..., Any]) -> list[inspect.Parameter]:
    params = _params(func)
    return params[[p.name for p in params].index("log_dir") + 1 :]


def test_lifted_functions_are_their_rules_with_refav_call_style() -> None:
    lifted = {name: f for name, f in FUNCTIONS.items() if hasattr(f, "rule")}
    assert len(lifted) > 50
    for name, func in lifted.items():
        rule = func.rule
        assert func.__name__ == rule.__name__ == name
        assert func.__doc__ == rule.__doc__, name
        public = [p.name for p in _params(func)]
        # scenario_not and reverse_relationship find log_dir by position: second (unary) or third (relational)
        assert public.index("log_dir") in (1, 2), name
        leading = public.index("log_dir") + 1  # rules take ctx and the uuid lists where these are
        assert _params(rule)[leading:] == _after_log_dir(func), name


def _args_entries(func: Callable[..., Any]) -> list[str]:
    lines = inspect.cleandoc(func.__doc__ or "").splitlines()
    if "Args:" not in lines:
        return []
    entries = []
    for line in lines[lines.index("Args:") + 1 :]:
        if line and not line.startswith(" "):
            break
        if line.startswith("    ") and not line.startswith("     ") and ":" in line:
            entries.append(line.split(":")[0].strip().lstrip("*"))
    return entries


def test_docs_and_program_scope_are_the_declarations() -> None:
    registry = docs.registry()
    assert list(registry) == list(FUNCTIONS)
    assert atomic.program_namespace() == {**FUNCTIONS, "np": np}
    # the search's phrasings are declared with each function, in its docstring
    assert registry["heading_toward"].phrasings and "getting closer" in registry["heading_toward"].phrasings
    for name, func in FUNCTIONS.items():
        entry = registry[name]
        params = [p for p in _params(func) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        shown = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
        assert entry.signature == f"{name}({shown})"
        assert entry.summary == inspect.cleandoc(func.__doc__ or "").splitlines()[0]
        assert list(entry.parameters) == [p.name for p in params], name
        stale = set(_args_entries(func)) - {p.name for p in _params(func)}
        assert not stale, f"{name} documents parameters it does not take: {sorted(stale)}"


def test_robust_variants_take_their_faithful_parameters_and_the_spell_ones() -> None:
    robust = {name: f for name, f in FUNCTIONS.items() if name.startswith("robust_")}
    assert len(robust) == 14
    for name, func in robust.items():
        faithful = FUNCTIONS[name.removeprefix("robust_")]
        own = {p.name: p for p in _after_log_dir(func)}
        assert [p.name for p in _params(func)].index("log_dir") == [p.name for p in _params(faithful)].index("log_dir")
        for param in _after_log_dir(faithful):
            theirs = own.get(param.name)
            assert theirs is not None, f"{name} lacks {faithful.__name__}'s {param.name}"
            assert (theirs.default, theirs.annotation) == (param.default, param.annotation), f"{name}.{param.name}"
        if name != "robust_stationary":  # a whole-track property has no spells
            assert {"min_duration_s", "max_gap_s"} <= set(own), name


def test_robust_spell_parameters_come_by_construction() -> None:
    # in_spells (motion) and robust_relation (relations) add min_duration_s and max_gap_s, their docs
    # and their checks: no robust declaration writes them itself
    for module in (robust, robust_relations):
        for node in ast.parse(Path(module.__file__ or "").read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
                written = {arg.arg for arg in node.args.args + node.args.kwonlyargs}
                assert not written & {"min_duration_s", "max_gap_s"}, f"{node.name} declares its spell parameters"
    spelled = {name: f for name, f in FUNCTIONS.items() if name.startswith("robust_") and name != "robust_stationary"}
    for name, func in spelled.items():
        assert [p.name for p in _params(func)][-2:] == ["min_duration_s", "max_gap_s"], name
        entry = docs.registry()[name]
        if func.__module__ == "avmine.atomic.functions.robust" or name == "robust_changing_lanes":
            for key, text in SPELL_DOCS:
                assert entry.parameters[key].startswith(text), name
    with pytest.raises(ArgumentError, match="robust_turning: min_duration_s"):
        spelled["robust_turning"].rule(None, [], min_duration_s=-1)  # checked before the rule runs


def test_vlm_table_is_derived_from_the_declarations() -> None:
    table = vlm_functions.FUNCTIONS
    assert table is program_functions.VISION
    assert len(table) == 10
    for name, entry in table.items():
        func = FUNCTIONS[name]
        assert entry.name == name and EXTENSION_KINDS[name].startswith("vision")
        params = [p.name for p in _params(func)]
        assert entry.argument == (params[2] if len(params) > 2 else None)
        # the question names the argument's value, unless the VLM is to pick the value among the choices
        assert ("{value}" in entry.template) == (entry.argument is not None and not entry.choices), name


def test_a_function_is_added_in_one_place(log: FakeLog) -> None:
    @listed("behaviour")
    @unary
    def seen_early(ctx: FakeLog, uuids: list[str], before: int = 3) -> dict[str, list[int]]:
        """Timestamps before ``before`` (a test declaration).

        Args:
            before: the first timestamp not kept.

        Example:
            early = seen_early(vehicles, log_dir, before=3)
        """
        return {uuid: [t for t in ctx.timeline(uuid) if t < before] for uuid in uuids}

    try:
        assert atomic.program_namespace()["seen_early"] is seen_early
        entry = docs.registry()["seen_early"]
        assert entry.signature == "seen_early(track_candidates, log_dir, before=3)"
        assert entry.parameters["before"] == "the first timestamp not kept. (default 3)"
        assert entry.kind.startswith("behaviour filter")
        # listed without a place: after the other behaviour functions, before the next kind's
        behaviours = [name for name, kind in EXTENSION_KINDS.items() if kind == "behaviour"]
        assert behaviours[-1] == "seen_early"
        assert list(FUNCTIONS).index("seen_early") == list(FUNCTIONS).index(behaviours[-2]) + 1
        assert seen_early({"v1": [1, 2, 3, 4]}, LOG_DIR) == {"v1": [1, 2]}
        assert scenario_not(seen_early)({"v1": [1, 2, 3, 4]}, LOG_DIR, before=2) == {"v1": [2, 3, 4]}
    finally:
        unlist("seen_early")
    assert "seen_early" not in FUNCTIONS and "seen_early" not in EXTENSION_KINDS

"""Programs filter tracks by what they do, never pick them by who they are.

A score is a verdict on the tracks a program outputs. A program that keeps one track by its id,
a piece of its id, or its place in some ordering of tracks turns scoring into a label oracle:
score it with and without that track and the difference says whether the track is a referred
object. Such a program also says nothing about any other log. So programs that *pick* tracks are
refused for scoring, saving and submitting; programs that *filter* tracks (atomic functions, or a
comprehension whose condition is a property every track has or lacks) pass.

Refused, each reported with its line:

- **position**: subscripting or slicing a sequence of tracks (``sorted(cars)[17]``,
  ``list(x)[3]``, ``list(cars.items())[:2]``, ``list(cars.values())[0]``); ``next``, ``min``,
  ``max``, ``enumerate`` or ``zip`` over tracks; ``.pop()``/``.popitem()`` of a scenario, ``.pop()``
  or ``.index()`` of a list of tracks; module functions over tracks (``itertools.islice``,
  ``functools.reduce``, ``statistics.mode``, ``np.random.choice``, ...). Each keeps a track for
  its place, not its behaviour.
- **id text**: indexing, slicing, string methods (``k.startswith(...)``), character-level
  builtins (``hash``, ``int``, ``ord``, ``sorted``, ...) on a track or log id, substring tests
  (``'3b35' in k``), and comparing an id with a string literal (``k == 'abc'``,
  ``k in ('a', 'b')``); looking a track up by a literal key (``cars['abc']``); text made of ids
  (``str(sorted(cars))``, ``''.join(cars)``, f-strings, ``%``) counts as an id.
- **early exits**: ``break`` in a loop over tracks, or returning its loop variable from one (the
  loop keeps the first track it meets).
- **id fragments**: a string literal made only of hex digits and dashes with at least four hex
  digits (``'3b35'``, ``'e9e3b96a'``): the prefixes renders and diagnostics print.

How values are traced: atomic functions return scenarios; iterating a scenario, its ``.keys()``
or the first of its ``.items()`` pairs gives track ids; ``log_dir.name`` is the log id; ``sorted``,
``list``, ``str``, f-strings and ``+`` carry these along. A scenario's values (timestamps, related
objects) are not ids: ``len(v) > 5``, ``v[0]`` and ``min(v)`` pass, and so does comparing ids with
each other (``k != j``). The check is syntactic: it cannot see through every indirection (a helper
called with a position, property thresholds so tight they isolate one track); the per-prompt
scoring budget and the held-out ground truth bound what such a program can learn.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from enum import Enum

HEX_FRAGMENT = re.compile(r"^[0-9a-fA-F-]*$")
MIN_HEX_DIGITS = 4
"""A literal of only hex digits and dashes with this many digits or more reads as an id fragment."""


class Kind(Enum):
    """What an expression holds, as far as picking tracks goes."""

    SCENARIO = "scenario"  # {track id: timestamps or related objects}
    SEQ = "seq"  # an ordered collection of track ids
    PAIRS = "pairs"  # a collection of (track id, value) pairs
    VALUES = "values"  # a collection of per-track values
    ID = "id"  # one track or log id
    PAIR = "pair"  # one (track id, value) pair
    VALUE = "value"  # one track's timestamps or related objects
    LOGDIR = "logdir"
    MODULE = "module"
    ANY = "any"  # unknown: a parameter
    OTHER = "other"  # numbers, text, lists of scenarios ...


TRACK_SEQUENCES = {Kind.SEQ, Kind.PAIRS, Kind.VALUES}
TEXTY = TRACK_SEQUENCES | {Kind.SCENARIO, Kind.ID, Kind.PAIR, Kind.VALUE, Kind.LOGDIR}
"""Kinds whose text holds track or log ids: ``str(sorted(cars))`` is id text too."""
ONE_TRACK = {Kind.ID, Kind.PAIR, Kind.VALUE}
"""Elements that stand for one track: picking one of these out of many is picking a track."""
_ELEMENT = {
    Kind.SCENARIO: Kind.ID, Kind.SEQ: Kind.ID, Kind.PAIRS: Kind.PAIR, Kind.VALUES: Kind.VALUE,
    Kind.ANY: Kind.ID, Kind.ID: Kind.ID,
}  # fmt: skip
_SEQUENCE_OF = {Kind.ID: Kind.SEQ, Kind.PAIR: Kind.PAIRS, Kind.VALUE: Kind.VALUES}
_BUILTINS = set(dir(builtins))
_TO_SEQUENCE = {"sorted", "list", "tuple", "reversed", "set", "frozenset", "iter"}
_TEXT_SAFE = {"len", "print", "isinstance", "bool", "type", "callable"}
_AS_TEXT = {"str", "repr", "format", "ascii"}
_LOG_ID_ATTRIBUTES = {"name", "stem"}


@dataclass
class _Scope:
    names: dict[str, Kind] = field(default_factory=dict)
    parent: _Scope | None = None

    def get(self, name: str) -> Kind:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        if name == "log_dir":
            return Kind.LOGDIR
        if name in ("description", "output_dir") or name in _BUILTINS:
            return Kind.OTHER
        return Kind.ANY


def _element(kind: Kind) -> Kind:
    return _ELEMENT.get(kind, Kind.OTHER)


def _sequence(element: Kind) -> Kind:
    return _SEQUENCE_OF.get(element, Kind.OTHER)


def _is_text_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(_is_text_literal(e) for e in node.elts)
    return False


class _Checker:
    """Walks a program once, tracing kinds (see the module docstring) and noting every pick."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def refuse(self, node: ast.AST, why: str) -> None:
        text = ast.unparse(node)
        shown = text if len(text) <= 60 else text[:57] + "..."
        self.reasons.append(f"line {getattr(node, 'lineno', '?')}: {why} ({shown})")

    # statements

    def block(self, body: list[ast.stmt], scope: _Scope) -> None:
        for statement in body:
            self.statement(statement, scope)

    def statement(self, node: ast.stmt, scope: _Scope) -> None:
        if isinstance(node, ast.Assign):
            kind = self.expr(node.value, scope)
            for target in node.targets:
                self.bind(target, kind, scope)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            kind = self.expr(node.value, scope) if node.value is not None else Kind.ANY
            self.bind(node.target, kind, scope)
        elif isinstance(node, ast.For | ast.AsyncFor):
            element = _element(self.expr(node.iter, scope))
            self.bind(node.target, element, scope)
            if element in ONE_TRACK:
                self.early_exits(node)
            self.block(node.body, scope)
            self.block(node.orelse, scope)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for expression in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if expression is not None:
                    self.expr(expression, scope)
            inner = _Scope({a.arg: Kind.ANY for a in _parameters(node.args)}, scope)
            self.block(node.body, inner)
            scope.names[node.name] = Kind.OTHER
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                scope.names[(alias.asname or alias.name).split(".")[0]] = Kind.MODULE
        else:
            self.generic(node, scope)

    def early_exits(self, loop: ast.For | ast.AsyncFor) -> None:
        """A loop over tracks that breaks, or returns its loop variable, keeps the first track it meets."""
        names = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        pending: list[tuple[ast.AST, bool]] = [(n, False) for n in loop.body]  # (node, inside an inner loop)
        while pending:
            node, inner = pending.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            returned = isinstance(node, ast.Return) and node.value is not None
            if (isinstance(node, ast.Break) and not inner) or (
                returned and {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & names
            ):
                self.refuse(node, "leaves a loop over tracks early, keeping the first track it meets")
            nested = inner or isinstance(node, ast.For | ast.AsyncFor | ast.While)  # a break there is its own
            pending.extend((child, nested) for child in ast.iter_child_nodes(node))

    def generic(self, node: ast.AST, scope: _Scope) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child, scope)
            elif isinstance(child, ast.expr):
                self.expr(child, scope)
            else:
                self.generic(child, scope)

    def bind(self, target: ast.expr, kind: Kind, scope: _Scope) -> None:
        if isinstance(target, ast.Name):
            scope.names[target.id] = kind
        elif isinstance(target, ast.Tuple | ast.List):
            parts = [Kind.ID, Kind.VALUE] if kind is Kind.PAIR and len(target.elts) == 2 else None
            for index, element in enumerate(target.elts):
                self.bind(element, parts[index] if parts else Kind.ANY, scope)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, Kind.ANY, scope)
        else:
            self.expr(target, scope)

    # expressions

    def expr(self, node: ast.expr, scope: _Scope) -> Kind:
        if isinstance(node, ast.Constant):
            return Kind.OTHER
        if isinstance(node, ast.Name):
            return scope.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value, scope)
            if base is Kind.LOGDIR:
                return Kind.ID if node.attr in _LOG_ID_ATTRIBUTES else Kind.SEQ if node.attr == "parts" else Kind.LOGDIR
            return Kind.ANY if base is not Kind.MODULE else Kind.MODULE
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, scope)
        if isinstance(node, ast.Compare):
            self.compare(node, scope)
            return Kind.OTHER
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left, scope), self.expr(node.right, scope)
            if Kind.ID in (left, right) or (isinstance(node.op, ast.Mod) and right in TEXTY):
                return Kind.ID
            if left is Kind.LOGDIR:
                return Kind.LOGDIR
            return next((k for k in (left, right) if k in TRACK_SEQUENCES | {Kind.SCENARIO}), Kind.OTHER)
        if isinstance(node, ast.JoinedStr):
            kinds = [self.expr(v, scope) for v in node.values]
            return Kind.ID if TEXTY & set(kinds) else Kind.OTHER
        if isinstance(node, ast.FormattedValue):
            kind = self.expr(node.value, scope)
            if node.format_spec is not None:
                self.expr(node.format_spec, scope)
            return kind
        if isinstance(node, ast.BoolOp):
            kinds = [self.expr(v, scope) for v in node.values]
            return next((k for k in kinds if k is not Kind.OTHER), Kind.OTHER)
        if isinstance(node, ast.IfExp):
            self.expr(node.test, scope)
            body, orelse = self.expr(node.body, scope), self.expr(node.orelse, scope)
            return body if body is not Kind.OTHER else orelse
        if isinstance(node, ast.Dict):
            for item in [*node.keys, *node.values]:
                if item is not None:
                    self.expr(item, scope)
            return Kind.SCENARIO
        if isinstance(node, ast.DictComp):
            inner = self.generators(node.generators, scope)
            self.expr(node.key, inner)
            self.expr(node.value, inner)
            return Kind.SCENARIO
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            inner = self.generators(node.generators, scope)
            return _sequence(self.expr(node.elt, inner))
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            kinds = [self.expr(e, scope) for e in node.elts]
            return _sequence(kinds[0]) if kinds and all(k is kinds[0] for k in kinds) else Kind.OTHER
        if isinstance(node, ast.Lambda):
            self.expr(node.body, _Scope({a.arg: Kind.ANY for a in _parameters(node.args)}, scope))
            return Kind.OTHER
        if isinstance(node, ast.NamedExpr):
            kind = self.expr(node.value, scope)
            self.bind(node.target, kind, scope)
            return kind
        if isinstance(node, ast.Starred):
            return self.expr(node.value, scope)
        self.generic(node, scope)
        return Kind.ANY

    def generators(self, generators: list[ast.comprehension], scope: _Scope) -> _Scope:
        inner = _Scope({}, scope)
        for generator in generators:
            self.bind(generator.target, _element(self.expr(generator.iter, inner)), inner)
            for condition in generator.ifs:
                self.expr(condition, inner)
        return inner

    def subscript(self, node: ast.Subscript, scope: _Scope) -> Kind:
        base = self.expr(node.value, scope)
        index = node.slice
        self.expr(index, scope)
        if base is Kind.ID:
            self.refuse(node, "indexes or slices the text of a track or log id")
            return Kind.ID
        if base in TRACK_SEQUENCES:
            self.refuse(node, "picks tracks by their position in a sequence")
            return _element(base)
        if base is Kind.PAIR:
            position = index.value if isinstance(index, ast.Constant) else None
            return Kind.ID if position == 0 else Kind.VALUE if position == 1 else Kind.ANY
        if base in (Kind.SCENARIO, Kind.ANY):
            if isinstance(index, ast.Constant) and isinstance(index.value, str):
                self.refuse(node, "looks a track up by a literal key")
            return Kind.VALUE
        return Kind.OTHER

    def compare(self, node: ast.Compare, scope: _Scope) -> None:
        operands = [node.left, *node.comparators]
        kinds = [self.expr(o, scope) for o in operands]
        ids = {Kind.ID, Kind.LOGDIR}
        for index, op in enumerate(node.ops):
            left, right = operands[index], operands[index + 1]
            left_kind, right_kind = kinds[index], kinds[index + 1]
            if isinstance(op, ast.In | ast.NotIn) and right_kind in ids and left_kind is not Kind.ID:
                self.refuse(node, "tests for text inside a track or log id")
                return
            if (left_kind in ids and _is_text_literal(right)) or (right_kind in ids and _is_text_literal(left)):
                self.refuse(node, "compares a track or log id with a string literal")
                return

    def call(self, node: ast.Call, scope: _Scope) -> Kind:
        func = node.func
        if isinstance(func, ast.Attribute):
            return self.method(node, func, scope)
        callee = self.expr(func, scope) if not isinstance(func, ast.Name) else None
        args = [self.expr(a, scope) for a in node.args]
        for keyword in node.keywords:
            self.expr(keyword.value, scope)
        name = func.id if isinstance(func, ast.Name) and func.id in _BUILTINS and func.id not in scope.names else None
        if name is None:
            return Kind.SCENARIO if callee is None or callee is not Kind.MODULE else Kind.OTHER
        first = args[0] if args else Kind.OTHER
        if name in _TEXT_SAFE:
            return Kind.OTHER
        if name in _AS_TEXT:
            return Kind.ID if first in TEXTY else Kind.OTHER
        if Kind.ID in args:
            self.refuse(node, f"{name}() computes on the text of a track or log id")
            return Kind.OTHER
        if name in _TO_SEQUENCE:
            return _sequence(_element(first))
        if name == "dict":
            return Kind.SCENARIO
        if name == "next":
            self.refuse(node, "next() takes the first track")
            return _element(first)
        if name in ("min", "max") and len(args) == 1 and _element(first) in ONE_TRACK:
            self.refuse(node, f"{name}() picks one track")
            return _element(first)
        if name in ("enumerate", "zip") and any(_element(a) in ONE_TRACK for a in args):
            self.refuse(node, f"{name}() numbers tracks by their position")
            return Kind.OTHER
        if name == "filter" and len(args) == 2:
            return _sequence(_element(args[1]))
        return Kind.OTHER

    def method(self, node: ast.Call, func: ast.Attribute, scope: _Scope) -> Kind:
        base = self.expr(func.value, scope)
        args = [self.expr(a, scope) for a in node.args]
        for keyword in node.keywords:
            self.expr(keyword.value, scope)
        attr = func.attr
        if base is Kind.ID:
            self.refuse(node, f".{attr}() works on the text of a track or log id")
            return Kind.ID
        if base is Kind.LOGDIR:
            return Kind.ID if attr == "as_posix" else Kind.LOGDIR
        if base is Kind.MODULE:
            if attr in ("copy", "deepcopy"):
                return args[0] if args else Kind.OTHER
            if any(a in {Kind.SCENARIO, Kind.SEQ, Kind.PAIRS, Kind.ID} for a in args):
                self.refuse(node, f"{ast.unparse(func)}() over the tracks of a scenario picks by position")
            return Kind.OTHER
        if base in (Kind.SCENARIO, Kind.ANY):
            picks = attr == "popitem" or (attr == "pop" and (not node.args or isinstance(node.args[0], ast.Constant)))
            if picks:
                self.refuse(node, f".{attr}() takes a track by its position or a literal key")
                return Kind.VALUE
            found = {"keys": Kind.SEQ, "items": Kind.PAIRS, "values": Kind.VALUES, "copy": base}
            return found.get(attr, Kind.VALUE if attr in ("get", "setdefault", "pop") else Kind.ANY)
        if base in TRACK_SEQUENCES and attr in ("pop", "index"):
            self.refuse(node, f".{attr}() picks tracks by their position in a sequence")
        if attr == "join" and any(a in TEXTY for a in args):
            return Kind.ID  # text made of ids
        return Kind.OTHER


def _parameters(arguments: ast.arguments) -> list[ast.arg]:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return every + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]


def _id_fragments(tree: ast.AST) -> list[str]:
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip()
            digits = sum(c != "-" for c in text)
            if digits >= MIN_HEX_DIGITS and HEX_FRAGMENT.match(text):
                reasons.append(f"line {node.lineno}: the literal {text!r} reads as a fragment of a track or log id")
    return reasons


def picked_tracks(tree: ast.Module) -> list[str]:
    """Why the parsed program picks tracks instead of filtering them: one reason per place (empty if none)."""
    checker = _Checker()
    checker.block(tree.body, _Scope())
    return checker.reasons + _id_fragments(tree)

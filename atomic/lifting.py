"""Lift vectorised per-track rules to scenario functions (RefAV's `composable` and `composable_relational`).

A function is declared once, as its rule: the rule's signature, defaults and docstring are the public
function's. The decorator derives the function programs call, with RefAV's call style::

    @unary
    def stationary(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
        \"\"\"Objects that moved less than 2 m over their whole observation.\"\"\"
        ...  # all tracks at once, on full timelines

    stationary(track_candidates, log_dir)  # the lifted function
    stationary.rule(ctx, uuids)  # the rule, for code that works on a log's arrays

Rule interfaces (`ctx` is what the registered context resolver returns for `log_dir`):

* unary: `rule(ctx, uuids: list[str], **params) -> Mapping[uuid, Iterable[int]]`, the timestamps at which
  each track satisfies the rule over its full timeline.
* relational: `rule(ctx, track_uuids: list[str], related_uuids: list[str], **params)
  -> Mapping[track_uuid, Mapping[related_uuid, Iterable[int]]]`, the raw relationship timestamps over full
  timelines.

The public signature is the rule's with its leading `ctx` and uuid lists replaced by
`track_candidates[, related_candidates], log_dir` (the names the docs show can be RefAV's own, see
`names`); `params` are the rule's parameters after those, bound from the call with the rule's defaults
applied, passed by name. A uuid missing from a rule's result means "no timestamps" / "no relationships";
uuids unknown to the log may be among the inputs. Related uuids in a relational result must come from
`related_uuids`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, cast, overload

from avmine.atomic.scenario import Scenario, ScenarioValue, as_scenario, restrict, timestamps
from avmine.atomic.timelines import ContextResolver, resolve_context, set_context_resolver

__all__ = [
    "ContextResolver",
    "Relational",
    "RelationalRule",
    "Unary",
    "UnaryRule",
    "public_signature",
    "relational",
    "resolve_context",
    "set_context_resolver",
    "unary",
]

P = ParamSpec("P")

UnaryRule = Callable[Concatenate[Any, list[str], P], Mapping[str, Iterable[int]]]
"""`rule(ctx, uuids, **params) -> {uuid: timestamps}` over full timelines."""

RelationalRule = Callable[Concatenate[Any, list[str], list[str], P], Mapping[str, Mapping[str, Iterable[int]]]]
"""`rule(ctx, track_uuids, related_uuids, **params) -> {track_uuid: {related_uuid: timestamps}}`."""

UNARY_NAMES = ("track_candidates",)
RELATIONAL_NAMES = ("track_candidates", "related_candidates")


class Unary(Protocol[P]):
    """A lifted unary function: `f(track_candidates, log_dir, ...)`, with its rule as `f.rule`."""

    __name__: str
    rule: UnaryRule[P]

    def __call__(self, track_candidates: Any, log_dir: Any, *args: P.args, **kwargs: P.kwargs) -> Scenario:
        """The rule's timestamps of each track, as a scenario keyed by the tracks."""
        ...


class Relational(Protocol[P]):
    """A lifted relational function: `f(track_candidates, related_candidates, log_dir, ...)`, rule as `f.rule`."""

    __name__: str
    rule: RelationalRule[P]

    def __call__(
        self, track_candidates: Any, related_candidates: Any, log_dir: Any, *args: P.args, **kwargs: P.kwargs
    ) -> Scenario:
        """The rule's relationships of each track, as a scenario keyed by the tracks."""
        ...


def public_signature(rule: Callable[..., Any], names: tuple[str, ...]) -> inspect.Signature:
    """The lifted function's signature: `names`, then `log_dir`, then the rule's parameters after its uuid lists.

    Raises:
        TypeError: the rule has too few parameters, or takes variadic or positional-only ones.
    """
    params = list(inspect.signature(rule).parameters.values())
    leading = len(names) + 1  # ctx and the uuid lists
    if len(params) < leading:
        raise TypeError(f"{rule.__name__}: a rule takes ctx and {len(names)} uuid list(s) before its parameters")
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{rule.__name__}: lifted functions take named parameters only (found {param})")
    if any(param.name == "log_dir" for param in params[leading:]):
        raise TypeError(f"{rule.__name__}: log_dir is the lifted function's; a rule gets its context as ctx")
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    front = [inspect.Parameter(name, positional, annotation="Scenario") for name in (*names, "log_dir")]
    front[-1] = front[-1].replace(annotation="Path")
    return inspect.Signature([*front, *params[leading:]], return_annotation="Scenario")


def _binder(rule: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """From call arguments to the rule's `params`, defaults applied; leading arguments may use RefAV's keywords."""
    calling = public_signature(rule, names)
    extra = list(calling.parameters)[len(names) + 1 :]

    def bind(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = calling.bind(*args, **kwargs)
        bound.apply_defaults()
        return {key: bound.arguments[key] for key in extra}

    return bind


def _declare(wrapper: Callable[..., Scenario], rule: Callable[..., Any], signature: inspect.Signature) -> None:
    """Give the lifted function the rule's name, docstring and module, the public signature, and the rule."""
    for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(wrapper, attribute, getattr(rule, attribute))
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.rule = rule  # type: ignore[attr-defined]


def _unary(rule: UnaryRule[P], names: tuple[str, ...]) -> Unary[P]:
    signature = public_signature(rule, names)
    bind = _binder(rule, UNARY_NAMES)
    run: Callable[..., Mapping[str, Iterable[int]]] = rule  # called with the bound parameters by name

    def wrapper(track_candidates: Any, log_dir: Any, *args: Any, **kwargs: Any) -> Scenario:
        params = bind(track_candidates, log_dir, *args, **kwargs)
        tracks = as_scenario(track_candidates, log_dir)
        if not tracks:
            return {}
        matched = run(resolve_context(log_dir), list(tracks), **params)
        return {uuid: restrict(value, matched.get(uuid, ())) for uuid, value in tracks.items()}

    _declare(wrapper, rule, signature)
    return cast(Unary[P], wrapper)


@overload
def unary(rule: UnaryRule[P], /) -> Unary[P]: ...
@overload
def unary(*, track: str) -> Callable[[UnaryRule[P]], Unary[P]]: ...
def unary(rule: UnaryRule[P] | None = None, /, *, track: str = UNARY_NAMES[0]) -> Any:
    """Decorator: declare a vectorised unary rule as the function `f(track_candidates, log_dir, ...)`.

    The lifted function converts `track_candidates` to a scenario, evaluates the rule once for all its
    uuids (on full timelines, whatever timestamps were passed in) and returns every input uuid with its
    input value restricted to the rule's timestamps: relationships of a relational input are kept at
    those timestamps, and non-matching tracks get `[]` or `{}`. `track` renames the first parameter in
    the docs (RefAV calls it `track_uuid` in a few functions); callers may still pass `track_candidates`.
    """
    if rule is not None:
        return _unary(rule, UNARY_NAMES)
    return lambda declared: _unary(declared, (track,))


def _relational(rule: RelationalRule[P], names: tuple[str, ...]) -> Relational[P]:
    signature = public_signature(rule, names)
    bind = _binder(rule, RELATIONAL_NAMES)
    run: Callable[..., Mapping[str, Mapping[str, Iterable[int]]]] = rule  # called with the parameters by name
    name = rule.__name__

    def wrapper(track_candidates: Any, related_candidates: Any, log_dir: Any, *args: Any, **kwargs: Any) -> Scenario:
        params = bind(track_candidates, related_candidates, log_dir, *args, **kwargs)
        tracks = as_scenario(track_candidates, log_dir)
        related = as_scenario(related_candidates, log_dir)
        # The pre-filter is global (each side against the union of the other), not pairwise.
        track_times = set(timestamps(tracks))
        related_times = set(timestamps(related))
        tracks = cast(Scenario, restrict(tracks, related_times))
        related = cast(Scenario, restrict(related, track_times))
        if not tracks:
            return {}
        found = run(resolve_context(log_dir), list(tracks), list(related), **params)

        out: Scenario = {}
        for uuid, value in tracks.items():
            relationships = found.get(uuid, {})
            raw = {other: set(ts) for other, ts in relationships.items()}
            children: dict[str, ScenarioValue] = {}
            if isinstance(value, dict):
                carried = restrict(value, set().union(*raw.values()))
                assert isinstance(carried, dict)
                children = carried
            own_times = set(timestamps(value))
            for other, ts in raw.items():
                if other not in related:
                    raise ValueError(f"{name}: rule related {uuid} to {other}, not a related candidate")
                children[other] = restrict(related[other], ts.intersection(own_times))
            out[uuid] = children
        return out

    _declare(wrapper, rule, signature)
    return cast(Relational[P], wrapper)


@overload
def relational(rule: RelationalRule[P], /) -> Relational[P]: ...
@overload
def relational(*, track: str, related: str) -> Callable[[RelationalRule[P]], Relational[P]]: ...
def relational(
    rule: RelationalRule[P] | None = None,
    /,
    *,
    track: str = RELATIONAL_NAMES[0],
    related: str = RELATIONAL_NAMES[1],
) -> Any:
    """Decorator: declare a vectorised relational rule as `f(track_candidates, related_candidates, log_dir, ...)`.

    Steps of the lifted function (RefAV's, including its quirks):

    1. Convert both candidate sets. Restrict the tracks to the union of all related timestamps and the
       related objects to the union of all track timestamps; uuids left without timestamps are dropped
       and do not appear in the result.
    2. Evaluate the rule once for all remaining tracks against all remaining related uuids.
    3. Every remaining track appears in the result, `{}` if it has no relationships. A track whose input
       was a dict keeps its earlier relationships at the union of its new relationship timestamps. Each
       new relationship becomes a child holding the related object's input value restricted to the
       relationship timestamps that are also the track's input timestamps (possibly `[]`); it replaces
       an earlier child with the same uuid.

    `track` and `related` rename the first two parameters in the docs (RefAV's `near_objects` has
    `track_uuid, candidate_uuids`); callers may still pass `track_candidates, related_candidates`.
    """
    if rule is not None:
        return _relational(rule, RELATIONAL_NAMES)
    return lambda declared: _relational(declared, (track, related))

"""Lift vectorised per-track rules to scenario functions (RefAV's `composable` and `composable_relational`).

A lifted function is declared as a stub that carries the public signature and docstring (what the docs
serve, and where `scenario_not` looks for `log_dir`), decorated with the rule that does the work::

    def _stationary(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
        ...  # all tracks at once, on full timelines

    @unary(_stationary)
    def stationary(track_candidates: Scenario, log_dir: Path) -> Scenario:
        \"\"\"Objects that moved less than 2 m over their whole observation.\"\"\"
        raise NotImplementedError  # never called: the rule does the work

Rule interfaces (`ctx` is what the registered context resolver returns for `log_dir`):

* unary: `rule(ctx, uuids: list[str], **params) -> Mapping[uuid, Iterable[int]]`, the timestamps at which
  each track satisfies the rule over its full timeline.
* relational: `rule(ctx, track_uuids: list[str], related_uuids: list[str], **params)
  -> Mapping[track_uuid, Mapping[related_uuid, Iterable[int]]]`, the raw relationship timestamps over full
  timelines.

`params` are the stub's parameters after `log_dir`, bound from the call with the stub's defaults applied,
passed by name. A uuid missing from a rule's result means "no timestamps" / "no relationships"; uuids
unknown to the log may be among the inputs. Related uuids in a relational result must come from
`related_uuids`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, cast

from atomic.scenario import Scenario, ScenarioValue, as_scenario, restrict, timestamps
from atomic.timelines import ContextResolver, resolve_context, set_context_resolver

__all__ = [
    "ContextResolver",
    "RelationalRule",
    "UnaryRule",
    "relational",
    "resolve_context",
    "set_context_resolver",
    "unary",
]

P = ParamSpec("P")

UnaryRule = Callable[..., Mapping[str, Iterable[int]]]
"""`rule(ctx, uuids, **params) -> {uuid: timestamps}` over full timelines."""

RelationalRule = Callable[..., Mapping[str, Mapping[str, Iterable[int]]]]
"""`rule(ctx, track_uuids, related_uuids, **params) -> {track_uuid: {related_uuid: timestamps}}`."""


def _rule_params(signature: inspect.Signature, leading: int, name: str) -> Callable[..., dict[str, Any]]:
    """Checks the stub's layout and returns a binder from call arguments to the rule's `params`."""
    params = list(signature.parameters.values())
    if len(params) < leading or params[leading - 1].name != "log_dir":
        raise TypeError(f"{name}: parameter {leading} of a lifted function must be named 'log_dir'")
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{name}: lifted functions take named parameters only (found {param})")
    extra = [param.name for param in params[leading:]]

    def bind(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return {key: bound.arguments[key] for key in extra}

    return bind


def unary(rule: UnaryRule) -> Callable[[Callable[P, Any]], Callable[P, Scenario]]:
    """Decorator: lift a vectorised unary rule to `f(track_candidates, log_dir, *args, **kwargs)`.

    The lifted function converts `track_candidates` to a scenario, evaluates the rule once for all its
    uuids (on full timelines, whatever timestamps were passed in) and returns every input uuid with its
    input value restricted to the rule's timestamps: relationships of a relational input are kept at
    those timestamps, and non-matching tracks get `[]` or `{}`.
    """

    def decorate(stub: Callable[P, Any]) -> Callable[P, Scenario]:
        bind = _rule_params(inspect.signature(stub), 2, stub.__name__)

        @functools.wraps(stub)
        def wrapper(track_candidates: Any, log_dir: Any, *args: Any, **kwargs: Any) -> Scenario:
            params = bind(track_candidates, log_dir, *args, **kwargs)
            tracks = as_scenario(track_candidates, log_dir)
            if not tracks:
                return {}
            matched = rule(resolve_context(log_dir), list(tracks), **params)
            return {uuid: restrict(value, matched.get(uuid, ())) for uuid, value in tracks.items()}

        return cast(Callable[P, Scenario], wrapper)

    return decorate


def relational(rule: RelationalRule) -> Callable[[Callable[P, Any]], Callable[P, Scenario]]:
    """Decorator: lift a vectorised relational rule to `f(track_candidates, related_candidates, log_dir, ...)`.

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
    """

    def decorate(stub: Callable[P, Any]) -> Callable[P, Scenario]:
        bind = _rule_params(inspect.signature(stub), 3, stub.__name__)

        @functools.wraps(stub)
        def wrapper(
            track_candidates: Any, related_candidates: Any, log_dir: Any, *args: Any, **kwargs: Any
        ) -> Scenario:
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
            found = rule(resolve_context(log_dir), list(tracks), list(related), **params)

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
                        raise ValueError(f"{stub.__name__}: rule related {uuid} to {other}, not a related candidate")
                    children[other] = restrict(related[other], ts.intersection(own_times))
                out[uuid] = children
            return out

        return cast(Callable[P, Scenario], wrapper)

    return decorate

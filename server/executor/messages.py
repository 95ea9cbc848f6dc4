"""The pipe protocol between the executor, its workers and their sandboxed children: bounded parsing and schemas.

Whatever crosses a pipe from a less trusted side is parsed here before trusted code uses it. A
line is refused when it is too long or nested too deeply (``json.loads`` recurses once per
bracket, so a line of 100,000 ``[`` kills the reader with RecursionError); what parses is then
validated by a schema, so trusted code only ever sees the types it expects. A sandboxed program
that escaped every Python layer can still write anything to its pipes: at worst its own run fails
with an error saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    FiniteFloat,
    JsonValue,
    StrictInt,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from avmine.atomic.trace import ARGS_CHARS, MAX_INPUTS, MAX_STEPS, NAME_CHARS
from avmine.server.executor.sandbox import Layers, Limits
from avmine.store.bounds import ERROR_CHARS, bound

MAX_DEPTH = 64
"""Nesting of a message's arrays and objects: RefAV's scenarios nest a level per relation, a few at most."""
_STRING = re.compile(rb'"(?:[^"\\]++|\\[\s\S]?)*+"?')
"""A JSON string, or an unterminated one up to the end: it never fails once started, so it scans in linear time."""
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_STEP = np.zeros(256, np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_CHUNK = 1 << 20


class MessageError(ValueError):
    """A message from a less trusted side is malformed; the text says how, for the program's author."""


def nesting_depth(data: bytes, limit: int = MAX_DEPTH) -> int:
    """How deeply a JSON text nests arrays and objects; counting stops early once it passes ``limit``.

    Brackets inside strings do not count. Runs at C speed (a regular expression and NumPy): a
    16 MiB line takes 0.1 to 0.5 s.
    """
    brackets = _STRING.sub(b"", data).translate(None, _BRACKETS)
    depth = deepest = 0
    for start in range(0, len(brackets), _CHUNK):
        levels = np.cumsum(_STEP[np.frombuffer(brackets[start : start + _CHUNK], np.uint8)], dtype=np.int64) + depth
        deepest = max(deepest, int(levels.max()))
        if deepest > limit:
            return deepest
        depth = int(levels[-1])
    return deepest


def check(data: bytes, max_bytes: int, what: str) -> None:
    """Refuse a JSON message too long or nested too deeply to decode safely.

    Raises:
        MessageError: it is; the text says which.
    """
    if len(data) > max_bytes:
        raise MessageError(f"{what} is too long ({len(data)} bytes, limit {max_bytes})")
    if nesting_depth(data) > MAX_DEPTH:
        raise MessageError(f"{what} is nested more than {MAX_DEPTH} levels deep")


def parse(data: bytes | str, max_bytes: int, what: str) -> Any:
    """A JSON message, bounded in size and depth before it is decoded.

    Args:
        data: the message (one line).
        max_bytes: the longest message accepted.
        what: the message's name in errors ("the program's result").

    Raises:
        MessageError: too long, nested too deeply, or not JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check(raw, max_bytes, what)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError: not JSON, not UTF-8, or an integer of 5,000 digits
        raise MessageError(f"{what} is not valid JSON ({bound(str(exc), 200)})") from exc


def _scenario_kind(value: Any) -> str | None:
    return "timestamps" if isinstance(value, list) else "relations" if isinstance(value, dict) else None


Timestamp = Annotated[StrictInt, Field(ge=-(1 << 63), lt=1 << 63)]
"""Nanoseconds, as an int64: a longer integer could not even be written back as JSON (Python's digit limit)."""
_Value = Annotated[
    Annotated[list[Timestamp], Tag("timestamps")] | Annotated["Scenario", Tag("relations")],
    Discriminator(
        _scenario_kind,
        custom_error_type="scenario_value",
        custom_error_message="Input should be a list of timestamps (integers) or a dict of related tracks",
    ),
]
Scenario = TypeAliasType("Scenario", dict[str, _Value])
"""RefAV's scenario dict: track id -> timestamps, or -> a dict of related tracks shaped the same way."""
_LAYER_NAMES = frozenset(f.name for f in fields(Layers))
_MODES = ("root", "user-namespace", "unknown")


Count = Annotated[StrictInt, Field(ge=0)]


class TraceStep(BaseModel):
    """One step of a program's trace (``avmine.atomic.trace.Step``)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    line: Count
    function: Annotated[str, Field(max_length=NAME_CHARS)]
    args: Annotated[str, Field(max_length=ARGS_CHARS)]
    calls: Count
    inputs: Annotated[list[Count], Field(max_length=MAX_INPUTS)]
    objects: Count
    timestamps: Count
    empty_calls: Count


class TraceDocument(BaseModel):
    """A program's trace on one log (``avmine.atomic.trace.Trace``)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    steps: Annotated[list[TraceStep], Field(max_length=MAX_STEPS)]
    first_empty: Count | None = None
    more_steps: Count = 0


class _Result(BaseModel):
    model_config = ConfigDict(strict=True)

    status: str
    scenario: Scenario | None = None
    error: str | None = None
    stdout: str = ""
    trace: TraceDocument | None = None
    seconds: FiniteFloat = 0.0
    function_seconds: dict[str, FiniteFloat] = Field(default_factory=dict)
    layers: dict[str, bool | str] = Field(default_factory=dict)

    @field_validator("layers")
    @classmethod
    def _known_layers(cls, layers: dict[str, bool | str]) -> dict[str, bool | str]:
        unknown = set(layers) - _LAYER_NAMES
        if unknown:
            raise ValueError(f"unknown sandbox layer(s) {', '.join(sorted(bound(n, 40) for n in unknown)[:5])}")
        if layers.get("mode", "unknown") not in _MODES:
            raise ValueError("unknown sandbox mode")
        wrong = [name for name, on in layers.items() if name != "mode" and not isinstance(on, bool)]
        if wrong:
            raise ValueError(f"sandbox layer {wrong[0]} is not true or false")
        return layers

    @model_validator(mode="after")
    def _complete(self) -> _Result:
        if self.status == "ok" and self.scenario is None:
            raise ValueError("an 'ok' result has no scenario")
        if self.status != "ok" and self.error is None:
            raise ValueError("a failed result has no error")
        return self

    def bounded(self, stdout_chars: int) -> dict[str, Any]:
        """The result as a dict, its texts bounded (stdout to ``stdout_chars`` plus room for its note)."""
        # the validated values themselves (no copy: a result may hold millions of timestamps); absent stays absent
        result = {name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None}
        result["stdout"] = bound(self.stdout, stdout_chars + 256)
        if self.error is not None:
            result["error"] = bound(self.error, ERROR_CHARS)
        if self.trace is not None:
            result["trace"] = self.trace.model_dump()
        return result


class ChildResult(_Result):
    """What a sandboxed child writes on its result pipe: one JSON document."""

    model_config = ConfigDict(strict=True, extra="forbid")

    status: Literal["ok", "error"]


class WorkerResult(_Result):
    """A worker's reply to a job, as the executor uses it."""

    model_config = ConfigDict(strict=True, extra="ignore")

    status: Literal["ok", "error", "timeout"]
    job_id: str | None = None


class VlmRequest(BaseModel):
    """A program's VLM call, one JSON line on its request pipe (see ``avmine.vlm.program_functions``)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    function: str
    log_id: str
    scenario: dict[str, list[Timestamp]]
    related: dict[str, list[Timestamp]] | None = None
    value: JsonValue = None


def reason(exc: ValidationError) -> str:
    """The first problem of a failed validation, short: where and what (never the offending value)."""
    first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
    where = ".".join(bound(str(part), 40) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{bound(first['msg'], 300)}{more}"


def child_result(data: bytes, limits: Limits) -> dict[str, Any]:
    """A sandboxed child's result, validated, its texts bounded.

    Raises:
        MessageError: the result is not what a child writes; the text says what is wrong.
    """
    check(data, limits.result_bytes + 4096, "the program's result")
    try:  # decoded and validated in one pass, in pydantic's Rust core: twice as fast as json.loads and then validating
        result = ChildResult.model_validate_json(data)
    except ValidationError as exc:
        if exc.errors()[0]["type"] != "json_invalid":
            raise MessageError(f"the program's result is malformed: {reason(exc)}") from exc
        try:  # Python's decoder accepts what Rust's refuses: a lone surrogate (a program may print one)
            document = json.loads(data)
        except ValueError:
            raise MessageError(f"the program's result is malformed: {reason(exc)}") from exc
        try:
            result = ChildResult.model_validate(document)
        except ValidationError as invalid:
            raise MessageError(f"the program's result is malformed: {reason(invalid)}") from invalid
    return result.bounded(limits.stdout_chars)


def worker_result(reply: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """A worker's reply to a job, validated, its texts bounded; a malformed one becomes an error result."""
    try:
        return WorkerResult.model_validate(reply).bounded(limits.stdout_chars)
    except ValidationError as exc:
        return {"status": "error", "error": f"the worker's result was malformed: {reason(exc)}"}


def vlm_request(document: Any) -> dict[str, Any]:
    """A program's VLM request, validated.

    Raises:
        MessageError: it is not a VLM request; the text says what is wrong.
    """
    try:
        return VlmRequest.model_validate(document).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise MessageError(f"malformed VLM request: {reason(exc)}") from exc

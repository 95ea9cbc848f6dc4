"""Columnar view of a scenario-mining sequences dict, built once with full input validation.

A sequences dict is what av2's scenario-mining ``evaluate`` takes for both predictions and ground
truth: ``{(log_id, prompt): [frame, ...]}`` where each frame is a dict of per-object arrays. The
evaluator works on one flat table per side instead: frames in sequence order, boxes (rows) in frame
order, so that every later step is a numpy operation over all frames at once.
"""

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from avmine.evaluation.errors import EvaluationInputError
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

REFERRED_OBJECT: Final = 0
RELATED_OBJECT: Final = 1
OTHER_OBJECT: Final = 2
LABEL_NAMES: Final = ("REFERRED_OBJECT", "RELATED_OBJECT", "OTHER_OBJECT")

# Tri-state of a frame's optional ``is_positive`` flag, stored as int8.
POSITIVE_ABSENT: Final = -1
POSITIVE_FALSE: Final = 0
POSITIVE_TRUE: Final = 1
POSITIVE_AMBIGUOUS: Final = 2  # is_positive is None: excluded from timestamp metrics

Side = Literal["predictions", "ground truth"]
SeqKey = tuple[str, str]

# Keys av2 0.3.6 reads from every frame (its tracking path slices them or crashes without them).
TRACKING_KEYS: Final = (
    "timestamp_ns",
    "ego_translation_m",
    "translation_m",
    "size",
    "yaw",
    "label",
    "name",
    "track_id",
)
# Keys av2 0.3.6's temporal-only path still slices: a frame of only {timestamp_ns, is_positive} raises KeyError.
TEMPORAL_KEYS: Final = ("timestamp_ns", "translation_m", "size", "yaw", "label", "track_id")


@dataclass(frozen=True)
class SequenceTable:
    """All frames and boxes of one side (predictions or ground truth), flattened.

    S sequences, F frames, R boxes. Frames of sequence ``s`` are ``frame_offsets[s]:frame_offsets[s+1]``;
    boxes of frame ``f`` are ``row_offsets[f]:row_offsets[f+1]``.

    Attributes:
        side: "predictions" or "ground truth", used in messages.
        seq_keys: (log_id, prompt) per sequence, length S.
        frame_offsets: (S+1,) int64.
        timestamp_ns: (F,) int64, strictly increasing within a sequence.
        ego_xy_city: (F, 2) ego position in the city frame; NaN where the frame has none (temporal mode).
        is_positive: (F,) int8, one of the POSITIVE_* codes.
        row_offsets: (F+1,) int64.
        translation_city: (R, 3) box centres, city frame.
        size_lwh: (R, 3) length, width, height.
        yaw_city: (R,) heading about the city z axis, radians.
        label: (R,) int64, REFERRED_OBJECT / RELATED_OBJECT / OTHER_OBJECT.
        track_id: (R,) int64, unique within a frame.
        score: (R,) float64 confidence; 1.0 where the side has no scores.
    """

    side: Side
    seq_keys: list[SeqKey]
    frame_offsets: NDArrayInt
    timestamp_ns: NDArrayInt
    ego_xy_city: NDArrayFloat
    is_positive: np.ndarray[tuple[int], np.dtype[np.int8]]
    row_offsets: NDArrayInt
    translation_city: NDArrayFloat
    size_lwh: NDArrayFloat
    yaw_city: NDArrayFloat
    label: NDArrayInt
    track_id: NDArrayInt
    score: NDArrayFloat

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return int(self.timestamp_ns.shape[0])

    @property
    def num_rows(self) -> int:
        """Number of boxes R."""
        return int(self.label.shape[0])

    @property
    def frame_of_row(self) -> NDArrayInt:
        """(R,) frame index of every box."""
        counts = np.diff(self.row_offsets)
        return np.repeat(np.arange(self.num_frames, dtype=np.int64), counts)

    @property
    def seq_of_frame(self) -> NDArrayInt:
        """(F,) sequence index of every frame."""
        counts = np.diff(self.frame_offsets)
        return np.repeat(np.arange(len(self.seq_keys), dtype=np.int64), counts)

    def select_rows(self, keep: NDArrayBool) -> "SequenceTable":
        """Return a table with only the boxes where ``keep`` is true; frames are kept even if emptied.

        Args:
            keep: (R,) boolean mask over boxes.

        Returns:
            A new table sharing the frame-level arrays.
        """
        counts = np.bincount(self.frame_of_row[keep], minlength=self.num_frames)
        row_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SequenceTable(
            side=self.side,
            seq_keys=self.seq_keys,
            frame_offsets=self.frame_offsets,
            timestamp_ns=self.timestamp_ns,
            ego_xy_city=self.ego_xy_city,
            is_positive=self.is_positive,
            row_offsets=row_offsets,
            translation_city=self.translation_city[keep],
            size_lwh=self.size_lwh[keep],
            yaw_city=self.yaw_city[keep],
            label=self.label[keep],
            track_id=self.track_id[keep],
            score=self.score[keep],
        )

    def with_labels(self, label: NDArrayInt) -> "SequenceTable":
        """Return a table with the box labels replaced.

        Args:
            label: (R,) new labels.

        Returns:
            A new table.
        """
        return SequenceTable(
            side=self.side,
            seq_keys=self.seq_keys,
            frame_offsets=self.frame_offsets,
            timestamp_ns=self.timestamp_ns,
            ego_xy_city=self.ego_xy_city,
            is_positive=self.is_positive,
            row_offsets=self.row_offsets,
            translation_city=self.translation_city,
            size_lwh=self.size_lwh,
            yaw_city=self.yaw_city,
            label=label,
            track_id=self.track_id,
            score=self.score,
        )

    def take_sequences(self, order: Sequence[int]) -> "SequenceTable":
        """Return a table holding only the given sequences, in the given order.

        Args:
            order: sequence indices into ``seq_keys``.

        Returns:
            A new table.
        """
        frame_idx = _ranges(self.frame_offsets, order)
        row_idx = _ranges(self.row_offsets, frame_idx)
        frame_counts = np.diff(self.frame_offsets)[list(order)] if order else np.zeros(0, np.int64)
        row_counts = np.diff(self.row_offsets)[frame_idx]
        return SequenceTable(
            side=self.side,
            seq_keys=[self.seq_keys[i] for i in order],
            frame_offsets=np.concatenate([[0], np.cumsum(frame_counts)]).astype(np.int64),
            timestamp_ns=self.timestamp_ns[frame_idx],
            ego_xy_city=self.ego_xy_city[frame_idx],
            is_positive=self.is_positive[frame_idx],
            row_offsets=np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int64),
            translation_city=self.translation_city[row_idx],
            size_lwh=self.size_lwh[row_idx],
            yaw_city=self.yaw_city[row_idx],
            label=self.label[row_idx],
            track_id=self.track_id[row_idx],
            score=self.score[row_idx],
        )


def _ranges(offsets: NDArrayInt, which: Sequence[int] | NDArrayInt) -> NDArrayInt:
    """Concatenate ``arange(offsets[i], offsets[i+1])`` for every ``i`` in ``which``, vectorised."""
    which_arr = np.asarray(which, dtype=np.int64)
    if which_arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts: NDArrayInt = offsets[which_arr]
    counts: NDArrayInt = offsets[which_arr + 1] - starts
    run_starts = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    result: NDArrayInt = np.arange(int(counts.sum()), dtype=np.int64) + run_starts
    return result


def parse_seq_key(key: object, side: Side) -> SeqKey:
    """Turn a sequences-dict key into ``(log_id, prompt)``.

    Accepts a tuple of two built-in ``str`` or its exact ``str()`` form, the two spellings av2 accepts.

    Args:
        key: the dict key.
        side: which input it came from, for the message.

    Returns:
        (log_id, prompt).

    Raises:
        EvaluationInputError: for any other key.
    """
    fix = "use the tuple (log_id, prompt) of two built-in str, or exactly str() of that tuple"
    if isinstance(key, str):
        try:
            parsed = ast.literal_eval(key)
        except (ValueError, SyntaxError):
            parsed = None
        if not (isinstance(parsed, tuple) and len(parsed) == 2 and all(type(p) is str for p in parsed)):
            raise EvaluationInputError(
                f"{side}: sequence key {key!r} is not the string form of a (log_id, prompt) tuple; {fix}"
            )
        if str(parsed) != key:
            raise EvaluationInputError(
                f"{side}: sequence key {key!r} is not spelled as str{parsed!r} "
                f"(av2 slices the log id and prompt out of it by position); {fix}"
            )
        return (parsed[0], parsed[1])
    if isinstance(key, tuple) and len(key) == 2:
        if not all(type(part) is str for part in key):
            kinds = ", ".join(type(part).__name__ for part in key)
            raise EvaluationInputError(
                f"{side}: sequence key {key!r} has members of type ({kinds}); av2 turns "
                f"keys into strings with str(), which breaks for non-built-in str "
                f"(e.g. numpy.str_); {fix}, e.g. (str(log_id), str(prompt))"
            )
        return (key[0], key[1])
    raise EvaluationInputError(
        f"{side}: sequence key {key!r} of type {type(key).__name__} is not a (log_id, prompt) tuple; {fix}"
    )


def is_tracking_submission(predictions: Mapping[Any, Any]) -> bool:
    """Decide av2's mode: tracking unless every frame has ``is_positive`` and no non-empty ``track_id`` array.

    Args:
        predictions: the raw predictions dict.

    Returns:
        True for the spatio-temporal (tracking) mode, False for temporal-only.
    """
    for frames in predictions.values():
        if not isinstance(frames, list):
            continue
        for frame in frames:
            if not isinstance(frame, dict) or "is_positive" not in frame:
                return True
            track_id = frame.get("track_id")
            if isinstance(track_id, np.ndarray) and track_id.size > 0:
                return True
    return False


class _Frame:
    """Validating reader of one frame dict (keeps the location for messages)."""

    def __init__(self, side: Side, key: SeqKey, index: int, frame: object) -> None:
        self.side = side
        self.key = key
        self.index = index
        if not isinstance(frame, dict):
            raise EvaluationInputError(
                f"{self.where()}: frame is a {type(frame).__name__}, expected a dict of per-object arrays"
            )
        self.frame: dict[str, Any] = frame
        ts = frame.get("timestamp_ns")
        self.ts = ts

    def where(self, key: str | None = None) -> str:
        ts = f", timestamp_ns={self.ts}" if getattr(self, "ts", None) is not None else ""
        at_key = f", key {key!r}" if key else ""
        return f"{self.side} {self.key!r}, frame {self.index}{ts}{at_key}"

    def fail(self, key: str | None, problem: str, fix: str) -> EvaluationInputError:
        return EvaluationInputError(f"{self.where(key)}: {problem}; fix: {fix}")

    def require(self, keys: Sequence[str]) -> None:
        missing = [k for k in keys if k not in self.frame]
        if missing:
            raise self.fail(
                missing[0],
                f"missing key(s) {missing} (present: {sorted(self.frame)})",
                "write every key av2's evaluate reads (av2.evaluation.scenario_mining.eval); empty arrays are fine",
            )

    def timestamp(self) -> int:
        ts = self.frame["timestamp_ns"]
        if isinstance(ts, bool | np.bool_) or not isinstance(ts, int | np.integer):
            raise self.fail("timestamp_ns", f"is {ts!r} of type {type(ts).__name__}", "use an int (nanoseconds)")
        return int(ts)

    def array(self, key: str, n: int | None, width: int | None, kind: str) -> np.ndarray[Any, Any]:
        value = self.frame[key]
        if not isinstance(value, np.ndarray):
            raise self.fail(
                key,
                f"is a {type(value).__name__}, expected a numpy array (av2 masks arrays only)",
                f"np.asarray(frame[{key!r}])",
            )
        expected = (n if n is not None else value.shape[0] if value.ndim else -1,) + ((width,) if width else ())
        if value.ndim != len(expected) or (value.shape != expected):
            raise self.fail(
                key,
                f"has shape {value.shape}, expected {_shape_text(expected, n, width)}",
                "give every per-object array the same length N (one entry per box)",
            )
        if kind == "int" and value.dtype.kind not in "iu":
            raise self.fail(key, f"has dtype {value.dtype}, expected integers", f"frame[{key!r}].astype(np.int32)")
        if kind == "float":
            if value.dtype.kind not in "iuf":
                raise self.fail(key, f"has dtype {value.dtype}, expected numbers", "use a float array")
            bad = ~np.isfinite(value.astype(np.float64))
            if bad.any():
                where = np.argwhere(bad)[0]
                raise self.fail(
                    key,
                    f"has a non-finite value {value[tuple(where)]!r} at index {tuple(where)}",
                    "drop or repair boxes with NaN/inf values before scoring",
                )
        return value

    def ego_xy(self) -> tuple[float, float]:
        ego = self.frame["ego_translation_m"]
        if isinstance(ego, np.ndarray):
            raise self.fail(
                "ego_translation_m",
                "is a numpy array; av2 masks every array in the frame with the per-object mask and crashes",
                "store it as a list of 3 floats: ego.tolist()",
            )
        if not isinstance(ego, list | tuple) or len(ego) != 3:
            raise self.fail(
                "ego_translation_m",
                f"is {ego!r}, expected a list of 3 numbers (x, y, z city)",
                "use list(city_SE3_egovehicle.translation)",
            )
        try:
            xyz = [float(v) for v in ego]
        except (TypeError, ValueError):
            raise self.fail("ego_translation_m", f"is {ego!r}, not numbers", "use 3 floats") from None
        if not all(np.isfinite(xyz)):
            raise self.fail("ego_translation_m", f"has a non-finite value {ego!r}", "use the ego pose translation")
        return xyz[0], xyz[1]

    def positive(self) -> int:
        if "is_positive" not in self.frame:
            return POSITIVE_ABSENT
        value = self.frame["is_positive"]
        if value is None:
            return POSITIVE_AMBIGUOUS
        if isinstance(value, bool | np.bool_):
            return POSITIVE_TRUE if value else POSITIVE_FALSE
        raise self.fail(
            "is_positive", f"is {value!r} of type {type(value).__name__}", "use True, False or None (ambiguous)"
        )


def _shape_text(expected: tuple[int, ...], n: int | None, width: int | None) -> str:
    first = "N" if n is None else str(n)
    return f"({first},{' ' + str(width) if width else ''})"


def read_sequences(obj: object, side: Side, tracking: bool, require_score: bool) -> SequenceTable:
    """Validate a sequences dict and flatten it into a :class:`SequenceTable`.

    Args:
        obj: ``{(log_id, prompt): [frame, ...]}`` as av2's evaluate takes it (not modified).
        side: "predictions" or "ground truth".
        tracking: whether the evaluation runs in tracking mode (decides the required keys).
        require_score: whether every frame must carry ``score`` (predictions in tracking mode).

    Returns:
        The flat table.

    Raises:
        EvaluationInputError: naming the first bad entry.
    """
    if not isinstance(obj, Mapping):
        raise EvaluationInputError(
            f"{side}: expected a dict {{(log_id, prompt): [frame, ...]}}, got {type(obj).__name__}"
        )
    if not obj:
        raise EvaluationInputError(f"{side}: the dict is empty; it must hold one entry per (log_id, prompt)")
    required = list(TRACKING_KEYS if tracking else TEMPORAL_KEYS) + (["score"] if require_score else [])
    keys: list[SeqKey] = []
    seen: dict[SeqKey, object] = {}
    frame_counts: list[int] = []
    timestamps: list[int] = []
    ego_xy: list[tuple[float, float]] = []
    positives: list[int] = []
    row_counts: list[int] = []
    cols: dict[str, list[np.ndarray[Any, Any]]] = {k: [] for k in ("t", "s", "y", "l", "i", "c")}
    for raw_key, frames in obj.items():
        key = parse_seq_key(raw_key, side)
        if key in seen:
            raise EvaluationInputError(
                f"{side}: sequence {key!r} appears twice (as {seen[key]!r} and {raw_key!r}); keep one"
            )
        seen[key] = raw_key
        if not isinstance(frames, list) or not frames:
            what = "an empty list" if isinstance(frames, list) else f"a {type(frames).__name__}"
            raise EvaluationInputError(
                f"{side} {key!r}: frames are {what}; expected a non-empty list of frame "
                f"dicts, one per evaluation timestamp in chronological order"
            )
        keys.append(key)
        frame_counts.append(len(frames))
        previous_ts: int | None = None
        for j, raw_frame in enumerate(frames):
            frame = _Frame(side, key, j, raw_frame)
            frame.require(required)
            ts = frame.timestamp()
            if previous_ts is not None and ts <= previous_ts:
                problem = "duplicates" if ts == previous_ts else "is earlier than"
                raise frame.fail(
                    "timestamp_ns",
                    f"{ts} {problem} the previous frame's {previous_ts}",
                    "sort frames by timestamp_ns and keep one frame per timestamp",
                )
            previous_ts = ts
            track_id = frame.array("track_id", None, None, "int")
            n = int(track_id.shape[0])
            if n > 1:
                uniq, counts = np.unique(track_id, return_counts=True)
                if (counts > 1).any():
                    dup = uniq[counts > 1].tolist()
                    raise frame.fail(
                        "track_id",
                        f"track id(s) {dup} occur more than once in this frame",
                        "give every box of a frame its own track id (TrackEval requires it)",
                    )
            translation = frame.array("translation_m", n, 3, "float")
            size = frame.array("size", n, 3, "float")
            yaw = frame.array("yaw", n, None, "float")
            label = frame.array("label", n, None, "int")
            if n and not np.isin(label, (REFERRED_OBJECT, RELATED_OBJECT, OTHER_OBJECT)).all():
                bad = label[~np.isin(label, (0, 1, 2))][0]
                raise frame.fail(
                    "label", f"has value {bad}; labels are 0 REFERRED, 1 RELATED, 2 OTHER", "map labels to 0/1/2"
                )
            if "name" in required:
                name = frame.frame["name"]
                if not isinstance(name, np.ndarray) or name.shape != (n,):
                    shape = name.shape if isinstance(name, np.ndarray) else type(name).__name__
                    raise frame.fail(
                        "name",
                        f"is {shape}, expected a string array of shape ({n},)",
                        "np.array(['REFERRED_OBJECT', ...]) matching label",
                    )
            if "score" in frame.frame:
                score = frame.array("score", n, None, "float").astype(np.float64)
            elif require_score:
                raise frame.fail("score", "missing", "add the tracker confidence per box")
            else:
                score = np.ones(n, dtype=np.float64)
            timestamps.append(ts)
            ego_xy.append(frame.ego_xy() if "ego_translation_m" in frame.frame or tracking else (np.nan, np.nan))
            positives.append(frame.positive())
            row_counts.append(n)
            cols["t"].append(translation)
            cols["s"].append(size)
            cols["y"].append(yaw)
            cols["l"].append(label)
            cols["i"].append(track_id)
            cols["c"].append(score)
    return SequenceTable(
        side=side,
        seq_keys=keys,
        frame_offsets=np.concatenate([[0], np.cumsum(frame_counts)]).astype(np.int64),
        timestamp_ns=np.asarray(timestamps, dtype=np.int64),
        ego_xy_city=np.asarray(ego_xy, dtype=np.float64).reshape(-1, 2),
        is_positive=np.asarray(positives, dtype=np.int8),
        row_offsets=np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int64),
        translation_city=np.concatenate(cols["t"]).astype(np.float64).reshape(-1, 3),
        size_lwh=np.concatenate(cols["s"]).astype(np.float64).reshape(-1, 3),
        yaw_city=np.concatenate(cols["y"]).astype(np.float64),
        label=np.concatenate(cols["l"]).astype(np.int64),
        track_id=np.concatenate(cols["i"]).astype(np.int64),
        score=np.concatenate(cols["c"]).astype(np.float64),
    )


def align_to_ground_truth(predictions: SequenceTable, ground_truth: SequenceTable) -> SequenceTable:
    """Reorder predictions to the ground truth's sequences and check that their frames pair up.

    av2 pairs frames by position after sorting by time; a submission must therefore hold every ground-truth
    (log, prompt) with the same timestamps. Prediction-only sequences are ignored, as av2 ignores them.

    Args:
        predictions: the predictions table.
        ground_truth: the ground-truth table.

    Returns:
        The predictions table with exactly the ground truth's sequences, in its order.

    Raises:
        EvaluationInputError: for missing sequences or frames whose timestamps differ.
    """
    index = {key: i for i, key in enumerate(predictions.seq_keys)}
    missing = [key for key in ground_truth.seq_keys if key not in index]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EvaluationInputError(
            f"predictions: {len(missing)} ground-truth sequence(s) missing: {shown}; fix: "
            f"submit every (log_id, prompt) of the split (evaluation.align_predictions "
            f"pads missing ones with empty frames)"
        )
    aligned = predictions.take_sequences([index[key] for key in ground_truth.seq_keys])
    if aligned.num_frames != ground_truth.num_frames or not np.array_equal(
        aligned.timestamp_ns, ground_truth.timestamp_ns
    ):
        _raise_frame_mismatch(aligned, ground_truth)
    return aligned


def _raise_frame_mismatch(predictions: SequenceTable, ground_truth: SequenceTable) -> None:
    for s, key in enumerate(ground_truth.seq_keys):
        gt_ts = ground_truth.timestamp_ns[ground_truth.frame_offsets[s] : ground_truth.frame_offsets[s + 1]]
        pr_ts = predictions.timestamp_ns[predictions.frame_offsets[s] : predictions.frame_offsets[s + 1]]
        if np.array_equal(gt_ts, pr_ts):
            continue
        fix = (
            "give the predictions exactly the ground truth's frames (evaluation.align_predictions does "
            "RefAV's fix_pred_pkl)"
        )
        if len(gt_ts) != len(pr_ts):
            raise EvaluationInputError(
                f"predictions {key!r}: {len(pr_ts)} frames but the ground truth has {len(gt_ts)}; fix: {fix}"
            )
        j = int(np.flatnonzero(gt_ts != pr_ts)[0])
        raise EvaluationInputError(
            f"predictions {key!r}, frame {j}: timestamp_ns={pr_ts[j]} but the ground "
            f"truth's frame {j} has timestamp_ns={gt_ts[j]}; fix: {fix}"
        )

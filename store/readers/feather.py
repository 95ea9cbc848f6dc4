"""Reading feather files with errors a person can act on, and bounded work.

A feather file is compressed: a few megabytes can decode to gigabytes. Batches are decoded one at a time and the
read stops once the rows or decoded bytes pass ``MAX_ROWS`` or ``MAX_DECODED_BYTES`` (an AV2 log has about
10^5 annotation rows and 10^4 poses); text values are at most ``MAX_TEXT_BYTES`` (ids and category names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from avmine.store.errors import IngestError
from avmine.store.readers.values import Bound, check_column

MAX_ROWS = 20_000_000
MAX_DECODED_BYTES = 2 << 30
MAX_TEXT_BYTES = 1024
_TOO_BIG_FIX = "An AV2 or RefAV file is far smaller; the file is corrupt or crafted. Copy it again from the dataset."


def _bounded_table(path: Path) -> pa.Table:
    """The file's table, decoded batch by batch and refused once it passes the bounds."""
    try:
        reader = pa.ipc.open_file(path)
    except pa.ArrowInvalid:  # feather version 1: not compressed, so its size bounds its work
        return feather.read_table(path)
    batches, rows, size = [], 0, 0
    for index in range(reader.num_record_batches):
        batch = reader.get_batch(index)
        rows, size = rows + batch.num_rows, size + batch.nbytes
        if rows > MAX_ROWS or size > MAX_DECODED_BYTES:
            raise IngestError(
                path,
                f"decodes to more than {MAX_ROWS:,} rows or {MAX_DECODED_BYTES:,} bytes (read stopped at {rows:,} "
                f"rows, {size:,} bytes).",
                _TOO_BIG_FIX,
            )
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _check_text(table: pa.Table, path: Path) -> None:
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
                or pa.types.is_large_binary(kind)) and len(column):  # fmt: skip
            longest = pc.max(pc.binary_length(column)).as_py() or 0
            if longest > MAX_TEXT_BYTES:
                raise IngestError(
                    path, f"has a value of {longest:,} bytes in column '{name}'; at most {MAX_TEXT_BYTES:,} are "
                    "expected (ids and category names).", _TOO_BIG_FIX,
                )  # fmt: skip


def read_feather_checked(
    path: Path, required: Iterable[str], what: str, bounds: Mapping[str, Bound] | None = None
) -> pd.DataFrame:
    """Read a feather file and check it has the required columns and no missing or non-finite values.

    Args:
        path: the file.
        required: column names the file must have.
        what: what the file is, for error messages (e.g. "AV2 annotations").
        bounds: numeric columns and their accepted ranges (``avmine.store.readers.values``).

    Raises:
        IngestError: the file cannot be read, lacks columns, holds NaN/inf in a required numeric column,
            or text or an out-of-range value in a bounded one.
    """
    try:
        table = _bounded_table(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError) as exc:
        raise IngestError(
            path,
            f"could not be read as a feather ({what}) file: {exc}.",
            "The file is truncated or corrupt; copy it again from the dataset (compare its size "
            "with the original) and re-run the ingest.",
        ) from exc
    required = list(required)
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise IngestError(
            path,
            f"is missing the column(s) {', '.join(missing)} that a {what} file must have "
            f"(it has: {', '.join(table.column_names)}).",
            "Point avmine at the original AV2/RefAV file, or add the columns with the same names and units.",
        )
    _check_text(table, path)
    frame: pd.DataFrame = table.to_pandas()
    for column in required:
        values = frame[column]
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise IngestError(
                path,
                f"has an empty value in column '{column}' (first at row {row}).",
                "Every row needs a value there; fix or drop those rows and re-run the ingest.",
            )
        if pd.api.types.is_float_dtype(values) and not np.isfinite(values.to_numpy()).all():
            row = int(np.flatnonzero(~np.isfinite(values.to_numpy()))[0])
            raise IngestError(
                path,
                f"has a non-finite value (inf) in column '{column}' (first at row {row}).",
                "Fix or drop those rows and re-run the ingest.",
            )
    for column, bound in (bounds or {}).items():
        check_column(frame[column].to_numpy(), bound, path, column)
    return frame

"""Reading feather files with errors a person can act on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from avmine.store.errors import IngestError
from avmine.store.readers.values import Bound, check_column


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
        table = feather.read_table(path)
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

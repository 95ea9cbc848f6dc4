"""NumPy array aliases shared by every package (store, atomic, evaluation, vlm), in av2's naming.

Element types are fixed: floats are float64, integers int64, masks bool. Shapes are given in each
function's docstring.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

NDArrayFloat = npt.NDArray[np.float64]
NDArrayInt = npt.NDArray[np.int64]
NDArrayBool = npt.NDArray[np.bool_]

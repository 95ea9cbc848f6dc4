"""Turn the reference runner's pickle (OUT.pkl, see README.md) into the JSON tests read.

    python tests/data/refav_golden/make_golden.py PROGRAMS.md OUT.pkl NAME.json

The JSON has the layout of examples.json: {"programs": [{"index", "code"}], "results":
{"<index>|<log_id>": {"description", "scenario", "error", "seconds"}}}. Pairs that RefAV did not
finish (TIMEOUT) are left out: they are not RefAV's answers.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from avmine.store.readers.safe_pickle import load_pickle


def main(programs_md: Path, results_pkl: Path, out_json: Path) -> None:
    """Write the golden JSON."""
    programs = re.findall(r"```python\n(.*?)```", programs_md.read_text(), re.S)
    results = load_pickle(results_pkl)
    kept = {
        f"{index}|{log_id}": value
        for (index, log_id), value in sorted(results.items())
        if not str(value.get("error") or "").startswith("TIMEOUT")
    }
    document = {"programs": [{"index": i, "code": code} for i, code in enumerate(programs)], "results": kept}
    out_json.write_text(json.dumps(document, indent=0, sort_keys=True))
    print(f"{out_json}: {len(kept)} (program, log) results")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

"""One agent query in a process of its own (started by ``avmine.server.mcp.sql.run_query``).

It reads one JSON request on standard input, bounds its own address space and dies with its parent, runs the
query on the label-free copy with ``execute_bounded`` and writes one JSON line: the rows, or the error. What a
query allocates (DuckDB's strings are not under its ``memory_limit``) is bounded here, never in the server.
"""

from __future__ import annotations

import ctypes
import json
import resource
import signal
import sys
from pathlib import Path

ADDRESS_SPACE = 3 << 30
"""The query process's address space: DuckDB's 512 MB of buffers, the interpreter and the rows being fetched."""
PR_SET_PDEATHSIG = 1


def main() -> None:
    """Serve the one request on standard input."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    from avmine.server.mcp.sql import QueryRefusedError, execute_bounded  # after the limits: DuckDB loads here
    from avmine.store import logs_copy

    request = json.loads(sys.stdin.readline())
    try:
        con = logs_copy.connect_for_agents(Path(request["copy"]), Path(request["folder"]))
        try:
            result = execute_bounded(
                con, request["sql"], request["max_rows"], request["max_bytes"], request["timeout_s"]
            )
        finally:
            con.close()
        reply = {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}
    except QueryRefusedError as exc:
        reply = {"error": str(exc)}
    except MemoryError:
        reply = {"error": "the query needed more memory than a query may use; aggregate, filter or select fewer "
                 "or shorter columns."}  # fmt: skip
    sys.stdout.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()

"""Several processes on one database: one writer, and everything else reaching the data through it.

DuckDB lets one process open a database file for writing, and while it does no other process may
open the file at all, not even read-only (several processes may read a file nobody writes).
``avmine serve`` runs for hours beside a coding agent, so every other command on its database would
fail with "Could not set lock". Holding the file only while writing (open, write, close, retry on a
lock) would let processes take turns, but the server keeps an executor with warm workers, per-log
caches, a VLM broker and a background run recorder over one open connection, and none of them
survives closing it; opening the file alone costs about 100 ms per call at 150 logs against 13 ms
for a forwarded call (``benchmarks/bench_shared_db.py``); and a long ``exec`` or ``ingest`` would
still hold the file for minutes, so every other process would wait.

So the process that holds the database writable (the first ``serve``, or a headless batch's
server) also listens on a Unix socket beside it, ``<db>.sock`` (``listener``): owner-only
permissions, and every connection's peer must be the same user (``SO_PEERCRED``). Another avmine
process that finds the database locked connects there (``client``):

- ``stats``, ``exec``, ``submit`` and ``library`` send their arguments; the writer runs the same
  command on its open store (``exec`` through its sandboxed executor, recorded in its database)
  and sends back what the command printed and its exit code;
- a second ``serve`` over stdio becomes a thin proxy (``proxy``): the MCP session's lines pass
  through to the writer, which serves them as one more MCP session over the same state.

The writer reads and writes the files a forwarded command names (a program, ``--out``, an export),
with relative paths taken from the client's directory: it runs as the same user. A lock held by a
process that serves nobody (a short command, a server still starting) is waited for up to 10 s.
Requests are one JSON line each way (``protocol``). A socket left by a killed server is stale:
nothing accepts on it, so clients fall back to waiting for the lock, and the next writer replaces it.
When the writer stops while forwarded work is in flight, the client says so and that the outcome
is unknown, rather than waiting forever.
"""

"""``avmine demo``: the whole path on the embedded demo dataset, in one command."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from avmine.evaluation import evaluate
from avmine.evaluation.ground_truth_from_store import ground_truth_frames
from avmine.evaluation.submission.from_runs import submission_from_runs
from avmine.server.cli.exit_codes import ExitCode
from avmine.server.cli.init_agent import command_to_type
from avmine.server.executor import Executor, LogSelection
from avmine.server.executor.diagnostics import diagnose
from avmine.server.executor.executor import check_sandbox
from avmine.server.ingestion import prepare_logs
from avmine.server.render.bev import BevView, render_bev
from avmine.store import Store, StoreError
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import refuse_if_open
from avmine.store.demo import (
    DEMO_DB_NAME,
    DEMO_ORIGIN,
    DEMO_SPLIT,
    demo_programs,
    ingest_demo,
    mark_demo_database,
    why_not_rebuildable,
)
from avmine.store.summary import format_summary, summarize

DEFAULT_OUT = Path("avmine-demo")
REPLACE_FLAG = "--replace-db"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="ingest the embedded demo logs into a fresh database, summarise and render them",
        description=f"The database is OUT/{DEMO_DB_NAME} unless --db names one (then OUT defaults to its folder). "
        "The demo rebuilds only a "
        "database it built itself that holds nothing but demo data; any other existing file is left alone "
        f"unless {REPLACE_FLAG} is given.",
    )
    parser.add_argument(
        "--out", type=Path, help=f"output directory (default: the folder of --db if given, else ./{DEFAULT_OUT})"
    )
    parser.add_argument(
        REPLACE_FLAG,
        action="store_true",
        help="delete the existing database at the demo's path even if it is not a demo database",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the demo database, print its summary and write a bird's-eye view."""
    db_path = Path(args.db).expanduser() if args.db else (args.out or DEFAULT_OUT) / DEMO_DB_NAME
    out: Path = args.out or (db_path.parent if args.db else DEFAULT_OUT)  # --db alone writes nothing elsewhere
    if db_path.exists() and not args.replace_db:
        why = why_not_rebuildable(db_path, default_location=args.db is None)
        if why is not None:
            raise StoreError(
                f"{db_path} already exists and {why}. The demo builds a fresh database, so it leaves this one "
                f"alone. Build the demo elsewhere (`avmine demo --out {shlex.quote(str(out) + '-2')}`), or add "
                f"{REPLACE_FLAG} to delete {db_path} and everything in it (with make: "
                f"`make demo DEMO_ARGS={REPLACE_FLAG}`)."
            )
    check_sandbox()  # before anything is written: a sandbox that cannot run would fail every demo program
    if db_path.exists():
        refuse_if_open(db_path)  # a server writing to it would go on writing to a deleted file
    out.mkdir(parents=True, exist_ok=True)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)  # a fresh database every time: the demo is reproducible
    with Store.open(db_path) as store:
        mark_demo_database(store)
        reports = ingest_demo(store, progress=not args.quiet)
        prepare_logs(store, [(s, log_id) for r in reports for s, log_id, *_ in r.sources], progress=not args.quiet)
        boxes = sum(r.num_boxes for r in reports)
        seconds = sum(r.seconds for r in reports)
        print(f"Demo database: {store.path} ({boxes} boxes ingested in {seconds:.1f} s)\n")
        print(format_summary(summarize(store)))
        log_id = str(store.query_df("SELECT log_id FROM log_prompt_pairs ORDER BY log_id LIMIT 1")["log_id"][0])
        arrays = store.load_arrays(log_id)
        picture = render_bev(
            arrays,
            BevView(time_index=len(arrays.timestamps_ns) // 2),
            out / f"bev_{log_id}.png",
            title=f"log {log_id[:8]}: boxes at mid-log, 3 s paths",
        ).path
        print("\nExample programs, run in the sandbox over every demo log:")
        with Executor(store) as executor:
            for prompt, program in demo_programs().items():
                execution = executor.run(program, prompt, LogSelection(), origin=DEMO_ORIGIN)
                found = sum(r.status == "ok" and any(r.scenario.values()) for r in execution.results if r.scenario)
                print(f"\n> {prompt}: {execution.status}, found in {found} of {len(execution.results)} logs "
                      f"({execution.seconds:.2f} s)")  # fmt: skip
                print("  " + diagnose(store, execution, ANNOTATIONS_SOURCE).text().replace("\n", "\n  "))
        submission, report = submission_from_runs(store, DEMO_SPLIT)
        truth = {key: ground_truth_frames(store, *key) for key in submission}
        scores = evaluate(submission, truth, "HOTA", 50)
        metrics = ", ".join(f"{name} {value:.3f}" for name, value in scores.metrics().items())
        print(f"\nSubmission from these runs, scored against ground truth ({report.pairs} pairs): {metrics}")
    print(f"\nBird's-eye view: {picture}")
    print(f"Explore it: {command_to_type()} --db {shlex.quote(str(db_path))} stats")
    return ExitCode.OK

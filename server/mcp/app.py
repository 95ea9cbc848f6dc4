"""``create_server``: the avmine MCP server, its shared state, and every tool, resource and prompt on it.

Tools live in ``avmine.server.mcp.tools`` (one module per group); each tool is a small function over
the shared state (the store and a warm executor) whose docstring is its description. Errors an
agent can fix come back as tool errors with the message; the server keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from avmine.evaluation.guarded_scoring import scoring_budget_from_env
from avmine.server import __version__
from avmine.server.executor import Executor
from avmine.server.mcp import prompts, resources
from avmine.server.mcp.state import HEADLESS_KEY, State
from avmine.server.mcp.tools import data, docs, images, library, runs, scoring, vision
from avmine.server.sharing.listener import listening
from avmine.store import Store
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.vlm.backends import VlmConfig, configuration_problem
from avmine.vlm.broker import VlmBroker

INSTRUCTIONS = (
    "avmine mines driving scenarios from Argoverse 2 logs. Write a RefAV-style program from the atomic "
    "functions (search_docs, get_function_docs), run it with execute_scenario, read the diagnostics, "
    "refine. The referred objects are the first objects the prompt mentions; never swap subject and object. "
    "The mine_scenario prompt has the whole workflow and the semantic rules."
)
"""What every client is told when it connects, before the sentence on the VLM (``instructions``)."""


def instructions(vlm_problem: str | None) -> str:
    """The server's instructions: ``INSTRUCTIONS`` and whether the vision functions and tools work here."""
    if vlm_problem is None:
        return INSTRUCTIONS + " A VLM is configured: the vision functions, vlm_check and verify_scene work."
    return (
        f"{INSTRUCTIONS} No VLM is usable on this server: a program calling a vision function (list_functions "
        f"marks them) fails, and vlm_check and verify_scene return only the images. For the operator: {vlm_problem}"
    )


TOOL_GROUPS = (docs, data, runs, scoring, images, vision, library)
"""The modules whose ``register`` adds the server's tools."""


def headless_tools(screening: bool) -> tuple[list[str], list[str]]:
    """The tools a headless agent session may call, and the others, from each tool's declared ``HEADLESS_KEY``.

    Args:
        screening: the session screens prompts (``avmine screen``), so tools marked ``SCREENING`` are allowed too.

    Returns:
        The allowed tool names and the denied ones, each sorted.
    """
    server: MCPServer[State] = MCPServer("avmine")  # no lifespan: declarations only, no store is opened
    for group in TOOL_GROUPS:
        group.register(server)
    levels = {"always", "screening"} if screening else {"always"}
    allowed: list[str] = []
    denied: list[str] = []
    for tool in asyncio.run(server.list_tools()):
        (allowed if (tool.meta or {}).get(HEADLESS_KEY) in levels else denied).append(tool.name)
    return sorted(allowed), sorted(denied)


def create_server(
    db_path: Path | str,
    reveal_ground_truth: bool = False,
    image_dir: Path | None = None,
    vlm_config: VlmConfig | None = None,
    source: str = ANNOTATIONS_SOURCE,
    scoring_budget: int | None = None,
    library_threshold: float = 0.8,
    memory_budget: int | None = None,
    store: Store | None = None,
    keep_single_log: bool = False,
) -> MCPServer[State]:
    """The avmine MCP server over the database at ``db_path``.

    Args:
        db_path: the database.
        reveal_ground_truth: let score_run list the concrete false positives and misses (only for a
            person's own exploration: an agent could otherwise copy the answers).
        image_dir: where rendered images are written (default: ``renders/`` beside the database).
        vlm_config: the VLM backend (default: from the environment, see ``avmine.vlm.backends.VlmConfig``).
        source: the track source of calls that name none (``annotations``, or a tracker's name for the test split).
        scoring_budget: scorings per prompt at agents' request (default: ``$AVMINE_SCORING_BUDGET``, else 30).
        library_threshold: the held-out Timestamp BA above which save_example admits a labelled prompt's program.
        memory_budget: bytes the executor's workers may hold in loaded logs (``Executor``'s default when None).
        store: the database, already open (default: opened here).
        keep_single_log: score_run does not score a prompt's single ground-truth log, so the screening batch
            serving this server can judge the submitted program on it (``avmine screen``).

    While it serves, other avmine processes reach the database through it (``avmine.server.sharing``).
    """
    budget = scoring_budget if scoring_budget is not None else scoring_budget_from_env()
    config = vlm_config or VlmConfig.from_env()
    vlm_problem = configuration_problem(config)
    store = store or Store.open(db_path)
    images_to = image_dir or Path(db_path).parent / "renders"

    @asynccontextmanager
    async def lifespan(_: MCPServer[State]) -> AsyncIterator[State]:
        broker = VlmBroker(store, source, config)
        executor = Executor(store, source=source, broker=broker.answer, memory_budget=memory_budget)
        state = State(store, executor, images_to, broker, reveal_ground_truth, budget, library_threshold,
                      keep_single_log)  # fmt: skip
        try:
            async with listening(store.path, server, state):
                yield state
        finally:  # entered once per process: for stdio, and for HTTP by its session manager
            executor.close()
            store.close()

    server: MCPServer[State] = MCPServer(
        "avmine", version=__version__, instructions=instructions(vlm_problem), lifespan=lifespan
    )
    for group in TOOL_GROUPS:
        group.register(server)
    resources.register(server, store, vlm_problem)
    prompts.register(server)
    return server

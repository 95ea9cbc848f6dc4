"""A stand-in agent command for ``avmine run --agent command``: a real MCP client that follows a script.

It reads its task from ``$AVMINE_TASK_FILE`` and its server from ``$AVMINE_MCP_CONFIG`` (as the
orchestrator gives them), finds the prompt in the task, and does what ``$SCRIPTED_AGENT_PLAN`` (a
JSON file ``{prompt: [behaviour per generating session, ...]}``) says for this session:

- ``{"submit": PROGRAM}``: execute_scenario the program, then submit_program it; with ``"score": true``
  it calls score_run on the run in between (its answer is appended to ``scores.log`` in the state folder);
- ``"silent"``: end without submitting; ``"crash"``: exit 3; ``"hang"``: sleep past any time limit.

Review sessions answer APPROVED. Sessions are counted per prompt in ``$SCRIPTED_AGENT_STATE``, and each
session appends its process id to ``pids`` there (so that tests can check that none outlives them).
It prints a last line in Claude Code's JSON result format (turns, cost).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def _call(name: str, arguments: dict[str, Any]) -> str:
    server = json.loads(Path(os.environ["AVMINE_MCP_CONFIG"]).read_text())["mcpServers"]["avmine"]
    client = httpx2.AsyncClient(headers=server["headers"], timeout=300)
    async with Client(streamable_http_client(server["url"], http_client=client)) as session:
        result = await session.call_tool(name, arguments)
    text = "\n".join(getattr(part, "text", "") for part in result.content)
    return f"ERROR {text}" if result.is_error else text


def main() -> int:
    with Path(os.environ["SCRIPTED_AGENT_STATE"], "pids").open("a") as pids:
        pids.write(f"{os.getpid()}\n")
    task = Path(os.environ["AVMINE_TASK_FILE"]).read_text()
    prompt = re.search(r'prompt exactly "(.*?)"', task)
    assert prompt, "no prompt in the task"
    if task.startswith("Review"):
        print(json.dumps({"type": "result", "result": "APPROVED", "num_turns": 1, "total_cost_usd": 0.01}))
        return 0
    plan = json.loads(Path(os.environ["SCRIPTED_AGENT_PLAN"]).read_text())[prompt.group(1)]
    counter = Path(os.environ["SCRIPTED_AGENT_STATE"]) / re.sub(r"\W+", "_", prompt.group(1))
    session = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(session + 1))
    behaviour = plan[min(session, len(plan) - 1)]
    with Path(os.environ["SCRIPTED_AGENT_STATE"], "tasks.log").open("a") as log:
        log.write(task + "\n=====\n")
    if behaviour == "crash":
        print("agent: lost its connection", file=sys.stderr)
        return 3
    if behaviour == "hang":
        time.sleep(3600)
    if behaviour == "silent":
        print(json.dumps({"type": "result", "result": "I could not do it.", "num_turns": 2, "total_cost_usd": 0.02}))
        return 0
    program = behaviour["submit"]
    ran = anyio.run(_call, "execute_scenario", {"program": program, "prompt": prompt.group(1)})
    if behaviour.get("score"):
        run_id = re.search(r"run(?:_id)?\W+([0-9a-f]{16})", ran)
        assert run_id, ran
        scored = anyio.run(_call, "score_run", {"run_id": run_id.group(1)})
        with Path(os.environ["SCRIPTED_AGENT_STATE"], "scores.log").open("a") as log:
            log.write(scored + "\n=====\n")
    said = anyio.run(_call, "submit_program", {"prompt": prompt.group(1), "program": program})
    print(json.dumps({"type": "result", "result": f"{ran[:200]}\n{said}", "num_turns": 3, "total_cost_usd": 0.05,
                      "usage": {"input_tokens": 1000, "output_tokens": 200}}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

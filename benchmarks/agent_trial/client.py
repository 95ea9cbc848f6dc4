"""A minimal MCP stdio client for agent trials: one server call per invocation, every call logged.

Usage (from the repository root):
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl instructions
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl list-tools
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl list-resources
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl read-resource URI
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl list-prompts
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl get-prompt NAME '{"arg": ...}'
  python benchmarks/agent_trial/client.py --db DB --log LOG.jsonl call TOOL '{"arg": ...}'

Each invocation starts `avmine --db DB serve` over stdio, as a model's client would, prints what the
server returned and appends one JSON line (command, tool, arguments, reply size, isError) to LOG.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

AVMINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "avmine"


def _content_text(content: list[Any]) -> str:
    parts = []
    for item in content:
        text = getattr(item, "text", None)
        parts.append(text if text is not None else f"[{getattr(item, 'type', '?')} content]")
    return "\n".join(parts)


async def _run(args: argparse.Namespace) -> tuple[str, bool, dict[str, Any]]:
    params = StdioServerParameters(command=str(AVMINE), args=["--db", args.db, "serve"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        if args.command == "instructions":
            return init.instructions or "", False, {}
        if args.command == "list-tools":
            tools = (await session.list_tools()).tools
            text = "\n\n".join(f"## {t.name}\n{t.description}\ninput: {json.dumps(t.input_schema)}" for t in tools)
            return text, False, {}
        if args.command == "list-resources":
            res = await session.list_resources()
            tmpl = await session.list_resource_templates()
            lines = [f"{r.uri}  {r.name}: {r.description}" for r in res.resources]
            lines += [f"{t.uri_template}  {t.name}: {t.description}" for t in tmpl.resource_templates]
            return "\n".join(lines), False, {}
        if args.command == "list-prompts":
            prompts = (await session.list_prompts()).prompts
            lines = [f"{p.name}({', '.join(a.name for a in p.arguments or [])}): {p.description}" for p in prompts]
            return "\n".join(lines), False, {}
        if args.command == "get-prompt":
            got = await session.get_prompt(args.target, json.loads(args.arguments or "{}"))
            text = "\n\n".join(getattr(m.content, "text", "") for m in got.messages)
            return text, False, {"prompt_name": args.target}
        if args.command == "read-resource":
            resource = await session.read_resource(args.target)
            text = "\n".join(getattr(c, "text", "") or "[blob]" for c in resource.contents)
            return text, False, {"uri": args.target}
        arguments = json.loads(args.arguments) if args.arguments else {}
        result = await session.call_tool(args.target, arguments)
        text = _content_text(result.content)
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content, indent=1)
        return text, bool(result.is_error), {"tool": args.target, "arguments": arguments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="avmine database file")
    parser.add_argument("--log", required=True, help="JSONL file each call is appended to")
    parser.add_argument(
        "command",
        choices=[
            "instructions",
            "list-tools",
            "list-resources",
            "read-resource",
            "list-prompts",
            "get-prompt",
            "call",
        ],
    )
    parser.add_argument("target", nargs="?", help="resource URI, prompt name or tool name")
    parser.add_argument("arguments", nargs="?", help="prompt or tool arguments as a JSON object")
    args = parser.parse_args()
    if args.command in ("read-resource", "get-prompt", "call") and not args.target:
        parser.error(f"{args.command} needs a target")
    start = time.monotonic()
    text, is_error, extra = asyncio.run(_run(args))
    record = {
        "command": args.command,
        **extra,
        "reply_chars": len(text),
        "is_error": is_error,
        "seconds": round(time.monotonic() - start, 2),
    }
    with open(args.log, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    print(text)
    if is_error:
        print("[isError]", file=sys.stderr)


if __name__ == "__main__":
    main()

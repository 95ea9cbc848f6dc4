"""Prompts: the mining and screening workflows, with the semantic rules, for an agent to follow."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from avmine.server.mcp.guidance import MINE_WORKFLOW, SCREEN_WORKFLOW, SEMANTIC_RULES


def register(server: MCPServer[Any]) -> None:
    """Add mine_scenario and screen_prompt."""

    @server.prompt(description="the workflow for mining one scenario, with the semantic rules")
    def mine_scenario(prompt: str) -> str:
        return MINE_WORKFLOW.format(prompt=prompt, rules=SEMANTIC_RULES)

    @server.prompt(description="screen a train prompt for the few-shot library")
    def screen_prompt(prompt: str, threshold: float = 0.8, attempts: int = 5) -> str:
        return SCREEN_WORKFLOW.format(prompt=prompt, threshold=threshold, attempts=attempts, rules=SEMANTIC_RULES)

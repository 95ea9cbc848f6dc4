"""The task texts headless agent sessions get: generate (with library examples), review, and feedback."""

from __future__ import annotations

from avmine.server.mcp.guidance import SEMANTIC_RULES
from avmine.store.library import Example


def generation_task(
    prompt: str,
    split: str,
    examples: list[Example],
    expected: str | None,
    screening: bool,
    feedback: str | None = None,
) -> str:
    """The task of a generating session: mine ``prompt`` on ``split`` and submit one program."""
    lines = [
        f'Write a scenario program for the prompt "{prompt}" using only the avmine MCP tools.',
        f"Run it on the {split} split (execute_scenario with split={split!r}).",
    ]
    if expected:
        lines.append(
            f"Expected referred category: {expected} (pass expected_category={expected!r} to execute_scenario; "
            "the diagnostics then flag programs that refer to other objects)."
        )
    lines += [
        "",
        "Workflow:",
        "1. search_docs / get_function_docs for the behaviours and relations in the prompt.",
        "2. Draft a RefAV program (atomic functions, log_dir, output_scenario(result, description, log_dir, "
        "output_dir) at the end) and execute_scenario it.",
        "3. Read the diagnostics (empty logs, referred categories, likely mistakes) and refine the program: "
        "at least one refinement round after the first execution.",
    ]
    if screening:
        lines.append(
            "4. score_run the run (scores only, on the prompt's ground-truth logs except the held-out ones the "
            "final program is judged on; a prompt with a single ground-truth log is not scored here, the batch "
            "judges the final program on it) and refine while the Timestamp BA is low."
        )
    lines += [
        f'{5 if screening else 4}. Call submit_program with prompt exactly "{prompt}" and your final program.',
        "Programs that write track ids, log ids or timestamps into the code, or pick tracks by id text or "
        "position (sorted(...)[k], next(iter(...)), k.startswith(...)), are rejected.",
        "",
        SEMANTIC_RULES.strip(),
    ]
    if examples:
        lines += ["", "Solved prompts from the few-shot library (the closest first):"]
        for example in examples:
            scores = f" (Timestamp BA {example.timestamp_ba:.2f})" if example.timestamp_ba is not None else ""
            lines += [f"### {example.prompt}{scores}", "```python", example.program.strip(), "```"]
    if feedback:
        lines += ["", f"A previous attempt at this prompt did not succeed: {feedback}"]
    return "\n".join(lines) + "\n"


def review_task(prompt: str, program: str, expected: str | None) -> str:
    """The task of a review session: check a program against the prompt's meaning in a fresh context."""
    expected_line = f"Expected referred category: {expected}.\n" if expected else ""
    return (
        f'Review this scenario program for the prompt "{prompt}" against the prompt\'s meaning.\n{expected_line}'
        "Check that the referred objects are the first objects the prompt mentions (never swapped with related "
        "ones), that each behaviour uses the right function and that thresholds are plausible (SI units). "
        "You may look up docs and execute_scenario to check.\n"
        f'If the program is right, answer APPROVED. If not, call submit_program with prompt exactly "{prompt}" '
        "and the corrected program, then say what you changed.\n\n"
        f"```python\n{program.strip()}\n```\n\n{SEMANTIC_RULES.strip()}\n"
    )

"""``avmine coverage``: per prompt, the functions a program would need and the behaviours nothing covers."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from avmine.atomic.coverage import Condition, gaps, prompt_coverage
from avmine.server.cli.exit_codes import ExitCode
from avmine.store import Store
from avmine.store.demo import demo_programs
from avmine.store.library import REFAV_EXAMPLES, parse_refav_examples
from avmine.store.paths import resolve_db_path


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``coverage`` command."""
    parser = subparsers.add_parser(
        "coverage",
        help="which functions prompts need, and which of their behaviours no function covers",
        description="Default prompts: the database's, RefAV's example prompts and the demo's.",
    )
    parser.add_argument("prompts", type=Path, nargs="?", help="a file with one prompt per line ('#' starts a comment)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _default_prompts(db: str | None) -> list[str]:
    prompts = [prompt for prompt, _ in parse_refav_examples(REFAV_EXAMPLES.read_text())] + list(demo_programs())
    path = resolve_db_path(db)
    if path.is_file():
        with Store.open(path, read_only=True) as store:
            prompts += [str(p) for p in store.query_df("SELECT DISTINCT prompt FROM prompts ORDER BY 1")["prompt"]]
    return list(dict.fromkeys(prompts))


def run(args: argparse.Namespace) -> int:
    """Print each prompt's coverage, then the gaps by how many prompts name them."""
    if args.prompts is not None:
        lines = [line.split("  #")[0].strip() for line in args.prompts.read_text().splitlines()]
        prompts = [line for line in lines if line and not line.startswith("#")]
    else:
        prompts = _default_prompts(args.db)
    import avmine.vlm.program_functions  # noqa: F401  (registers the VLM functions, whose phrasings count too)
    from avmine.vlm.backends import VlmConfig

    vlm = VlmConfig.from_env()
    coverages = [prompt_coverage(prompt, vlm_configured=vlm.backend is not None) for prompt in prompts]
    missing = gaps(coverages)
    if args.json:
        listed = [{**asdict(c), "covered": c.covered, "uncovered": c.uncovered} for c in coverages]
        print(json.dumps({"prompts": listed, "gaps": dict(missing.most_common())}, indent=1))
        return ExitCode.OK
    for coverage in coverages:
        print(f"{'ok ' if coverage.covered else 'GAP'} {coverage.prompt}")
        print(f"      categories: {', '.join(coverage.categories) or '-'}")
        for c in coverage.conditions:
            print(f"      {c.words!r}: {_condition(c, vlm.backend)}")
    covered = sum(c.covered for c in coverages)
    print(f"\n{covered} of {len(coverages)} prompts covered ({covered / max(len(coverages), 1):.0%}); "
          f"VLM: {vlm.backend or 'none configured (AVMINE_VLM_BACKEND)'}.")  # fmt: skip
    if missing:
        print("Not covered: " + ", ".join(f"{name} ({n})" for name, n in missing.most_common()))
    return ExitCode.OK


def _condition(condition: Condition, vlm_backend: str | None) -> str:
    functions = ", ".join(condition.functions)
    if condition.status == "ok":
        return functions
    if condition.status == "vlm":
        return f"{functions} (needs a VLM: {'configured, ' + vlm_backend if vlm_backend else 'none configured'})"
    if condition.status == "no function":
        return f"no function ({condition.gap})"
    return "not recognised: no function's phrasing, category or known gap matches"

"""Every avmine command that a message or docstring suggests exists, with the flags it is printed with."""

from __future__ import annotations

import argparse
import ast
import difflib
import re
from pathlib import Path

from avmine.server.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "store", "evaluation", "atomic", "vlm")
PROSE = {"ingests", "server", "store"}
"""Words after "avmine" that are prose close to a command's name ("avmine ingests AV2 tracking pickles")."""
STOP = re.compile(r"[`\n);,\"']|(?<!\.)[.:](?:\s|$)")
"""Where a command in a message ends (a message's own "avmine run: ..." prefix ends at its colon)."""


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module (f-strings with their fields as {X}), with its line."""
    tree = ast.parse(path.read_text())
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{X}" for v in node.values)
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            found.append((node.lineno, node.value))
    return found


def suggested_commands() -> list[tuple[str, str]]:
    """(where, the command as written) for each avmine command line in the packages' strings."""
    names = set(subcommands(build_parser()))
    commands = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, text in strings(path):
                for match in re.finditer(r"(`?)\bavmine\b(?![-_./])", text):
                    rest = STOP.split(text[match.end() :], maxsplit=1)[0]
                    words = rest.split()
                    first = words[0] if words else ""
                    if first.startswith("{X}"):  # the command itself is filled in at run time: nothing to check
                        continue
                    looks_like = first.startswith("-") or bool(difflib.get_close_matches(first, names, cutoff=0.75))
                    if match.group(1) or (looks_like and first not in PROSE):
                        commands.append((f"{path.relative_to(ROOT)}:{line}", "avmine" + rest))
    return commands


def problems_of(command: str) -> list[str]:
    parser = build_parser()
    words = [w.strip("[]") for w in command.split()[1:] if w not in ("|", "...")]
    problems: list[str] = []
    while words and words[0].startswith("-"):
        flag = words.pop(0).split("=")[0]
        if flag not in options(parser):
            problems.append(f"{flag} is not an option of avmine")
        elif flag == "--db" and words:
            words.pop(0)
    if not words:
        return problems
    name = words.pop(0)
    commands = subcommands(parser)
    if name not in commands:
        return [*problems, f"{name!r} is not an avmine command (commands: {', '.join(sorted(commands))})"]
    sub = commands[name]
    nested = subcommands(sub)
    if nested and words and not words[0].startswith("-") and words[0].isidentifier() and words[0].islower():
        if words[0] not in nested:
            problems.append(f"{words[0]!r} is not a subcommand of avmine {name}")
        else:
            sub = nested[words.pop(0)]
    for word in words:
        if word.startswith("--") and word.split("=")[0] not in options(sub):
            problems.append(f"{word.split('=')[0]} is not an option of avmine {name} (put --db before the command)")
    return problems


def test_the_scan_finds_the_suggestions_it_must_check() -> None:
    found = {command for _, command in suggested_commands()}
    assert {"avmine stats", "avmine demo", "avmine ingest", "avmine serve"} <= found, found
    assert any(command.startswith("avmine --db {X} ingest") for command in found), found


def test_the_check_catches_the_mistakes_it_is_for() -> None:
    assert problems_of("avmine runs") and problems_of("avmine ingest PATH --db X.duckdb")
    assert problems_of("avmine library serach QUERY") and problems_of("avmine --dbase X stats")
    assert not problems_of("avmine --db X ingest PATH --split val") and not problems_of("avmine library import --refav")


def test_every_suggested_command_exists_with_its_flags() -> None:
    wrong = [f"{where}: `{command}`: {'; '.join(problems)}"
             for where, command in suggested_commands() if (problems := problems_of(command))]  # fmt: skip
    assert not wrong, "\n".join(wrong)

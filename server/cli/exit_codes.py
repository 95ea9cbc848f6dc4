"""The exit codes of every avmine command. Errors are always written to standard error."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a command's exit status means, the same for every command."""

    OK = 0
    """The command did what was asked."""
    FAILED = 1
    """It ran, but what it ran failed: a program failed on every log, a submission does not validate, every
    prompt of a batch failed, or an internal error (its traceback is logged)."""
    USAGE = 2
    """Bad arguments or input (argparse's own code too), or a database that cannot be used: the message says
    what to fix, and nothing was changed."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (SIGINT; 128 + 2, as a shell reports it): what was under way was undone and its
    temporary files removed; a batch (``run``, ``screen``) keeps the prompts it finished."""

"""The avmine server: MCP tools, the sandboxed executor, rendering and the command line."""

__version__ = "0.1.0"
"""The one place the version is written (pyproject.toml reads it)."""

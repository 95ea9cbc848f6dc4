"""The avmine server: MCP tools, the sandboxed executor, rendering and the command line."""

"""The MCP server: the agent's tools over the store, the atomic docs and the sandboxed executor."""

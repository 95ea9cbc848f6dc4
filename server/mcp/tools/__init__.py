"""The server's tools, one module per group; each module's ``register`` adds its tools to a server."""

"""atomic package."""

"""The RefAV-compatible atomic functions, grouped by what they look at."""

"""Readers that turn files on disk into validated tables, one module per input kind."""

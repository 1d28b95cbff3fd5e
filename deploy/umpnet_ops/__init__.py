"""Operator tooling: the `umpnet` command."""

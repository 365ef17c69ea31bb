"""The `caseflow` command (Typer): the development stack, each process on its own, and admin
tasks; a module per group of commands."""

from caseflow.cli.commands import app, main

__all__ = ["app", "main"]

"""`python -m caseflow.cli`, as the development stack starts its children."""

from caseflow.cli.commands import run

run()

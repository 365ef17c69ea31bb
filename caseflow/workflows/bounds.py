"""The range of every integer Caseflow takes in, from requests and configuration alike.

An id, a count, an offset or a position never needs more than a PostgreSQL INTEGER holds, and
anything larger would fail in the database (SQLite's integers stop at 2**63 - 1, PostgreSQL's
at 2**31 - 1) instead of being refused as bad input: every integer field and parameter is one
of these types, so an out-of-range number answers 422.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_INT = 2**31 - 1  # a PostgreSQL INTEGER
Count = Annotated[int, Field(ge=0, le=MAX_INT)]  # a number of things, an offset, a position
Id = Annotated[int, Field(ge=1, le=MAX_INT)]  # a row's id

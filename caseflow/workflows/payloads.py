"""The data converter every Caseflow client, worker and replayer uses: pydantic's, with one cache
of type adapters for the whole process.

The SDK builds a new payload converter for each workflow run, so the pydantic converter's own
cache starts empty in every run and a run's first activation rebuilt the schemas of the same
dataclasses each time: measured, 0.28 s of a 0.33 s replay of a closed case, and on a loaded
machine enough to trip the worker's 2 s deadlock detector. The converter class is defined here,
outside the sandbox, so every run's converter shares the adapters built once per process.
Caching changes no result: an adapter is a pure function of its type.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

ADAPTERS = 1024  # distinct payload types; Caseflow has about a hundred
_adapter = functools.lru_cache(maxsize=ADAPTERS)(TypeAdapter)


class SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic's JSON converter whose type adapters live as long as the process."""

    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = _adapter

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_type_adapter"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._type_adapter = _adapter


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default converters, JSON done by pydantic with the shared adapters."""

    def __init__(self) -> None:
        json = SharedAdaptersJSONConverter()
        super().__init__(
            *(
                json if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)

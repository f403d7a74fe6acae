"""Event models from values the generators made to fit: pydantic's checks skipped, output unchanged.

Validating a model the generator just built from pools and its own arithmetic is a third of the
generator's CPU (the seeder spends most of its time building events). The generators make only
values the schemas accept (tests/test_generators.py validates every event of a 100,000-event
mix and the catalogues); consumers validate every message they read, so nothing reaches
PostgreSQL unchecked. Fields keep the schema's order, so the JSON on the wire is the same bytes.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_MISSING = object()


@cache
def _layout(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    """(name, default or _MISSING) of every field, in the schema's order."""
    return tuple(
        (name, _MISSING if field.default is PydanticUndefined else field.default)
        for name, field in cls.model_fields.items()
    )


def build(cls: type[M], **values: Any) -> M:
    """``cls(**values)`` without validation: what ``model_construct`` does, at a fraction of its cost."""
    fields = {}
    for name, default in _layout(cls):
        value = values.get(name, default)
        if value is _MISSING:
            raise TypeError(f"{cls.__name__}: {name} is required")
        fields[name] = value
    return _instance(cls, fields, set(values))


def replaced(model: M, **changes: Any) -> M:
    """``model.model_copy(update=changes)`` without its generic machinery (frozen models share safely)."""
    return _instance(type(model), model.__dict__ | changes, model.__pydantic_fields_set__ | changes.keys())


def _instance(cls: type[M], fields: dict[str, Any], fields_set: set[str]) -> M:
    instance = object.__new__(cls)
    _set(instance, "__dict__", fields)
    _set(instance, "__pydantic_fields_set__", fields_set)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance

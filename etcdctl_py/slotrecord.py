"""A base for small value classes that would be dataclasses if `dataclasses` were cheap to import.

`dataclasses` imports `inspect` (~10 ms of a cold command), so classes on the start-up path spell out their
`__init__` and `__slots__` and take equality and repr from here, field by field, in `__slots__` order."""

from __future__ import annotations


class SlotRecord:
    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, SlotRecord)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq=True

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({inner})"

"""The root of govmilter's exceptions; each room declares its narrow subclasses next to its code."""

from __future__ import annotations


class GovmilterError(Exception):
    """A govmilter operation failed."""

    def __init__(self, *args: object) -> None:
        if not args and self.__doc__:
            args = (self.__doc__.strip().splitlines()[0],)
        super().__init__(*args)

"""Fixtures shared by the end-to-end tests: the private Postfix they send mail through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postfix_harness import PrivatePostfix, require_postfix


@pytest.fixture(scope="module")
def postfix() -> Iterator[PrivatePostfix]:
    """One private Postfix for the module, on loopback ports; each test plugs in its milter."""
    require_postfix()
    with PrivatePostfix() as instance:
        yield instance

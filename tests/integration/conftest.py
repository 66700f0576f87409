"""Fixtures shared by the end-to-end tests: the private Postfix they send mail through."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from postfix_harness import MilterOn, PrivatePostfix, plugged_milter, require_postfix


@pytest.fixture(scope="session")
def shared_postfix() -> Iterator[PrivatePostfix]:
    """The run's private Postfix on loopback ports: started once (a start and a stop take
    seconds), handed to each module reset by ``postfix``."""
    require_postfix()
    with PrivatePostfix() as instance:
        yield instance


@pytest.fixture(scope="module")
def postfix(shared_postfix: PrivatePostfix) -> PrivatePostfix:
    """The private Postfix for the module, as if new (:meth:`PrivatePostfix.reset`: the
    settings it was made with, no milter, empty queues, sink and log); each test plugs in its
    milter. A module that needs another kind of Postfix (chrooted, its own main.cf from the
    start) makes its own ``PrivatePostfix``."""
    shared_postfix.reset()
    return shared_postfix


@pytest.fixture(scope="module")
def milter_on(postfix: PrivatePostfix) -> MilterOn:
    """Plug a fresh daemon into the module's Postfix: ``with milter_on(policy_yaml) as daemon:``
    (policy text, file or None for the embedded default; extra ``govmilter run`` arguments);
    what was plugged before is plugged back afterwards."""
    return functools.partial(plugged_milter, postfix)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory of the test's, mode 0755 (other users may enter it), with a short name: a
    unix socket path has at most 107 bytes, too few for pytest's tmp_path names."""
    path = Path(tempfile.mkdtemp(prefix="gm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)

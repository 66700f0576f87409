"""How the console runs: the options of ``govmilter console`` (kept apart from the Flask
application so that the command line parses without importing Flask)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """How the console runs (``govmilter console`` options)."""

    idle_minutes: int = 30  #: a session unused this long is over
    longest_hours: int = 12  #: a session is over this long after sign-in, used or not
    #: a header set by a trusted reverse proxy naming the signed-in user (None: local sign-in)
    trusted_user_header: str | None = None
    secure_cookies: bool = False  #: cookies only over HTTPS (behind a TLS proxy)
    secret_key: bytes | None = None  #: signs the cookies (None: new at each start)
    #: the policy's units, (id, title), for the overview's table per unit (empty: no units)
    unit_titles: tuple[tuple[str, str], ...] = ()

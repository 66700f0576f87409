"""``govmilter policy init``: a production policy to start from, commented like the default.

It is the embedded default policy with the agency's own domains filled in under
``domains.internal`` (they count as official, and the look-alike check protects them: one edit
from ``mic.gov.vn`` is a look-alike) and, with ``--monitor``, ``mode: monitor``, so that a new
installation first watches and counts without changing any mail. The text is checked by the
policy loader before it is written: what ``init`` writes always validates.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

from govmilter import __version__
from govmilter.errors import GovmilterError
from govmilter.mail.names import DomainError, normalize_domain
from govmilter.policy import PolicyError, default_policy_path, parse_policy


class PolicyInitError(GovmilterError):
    """A domain given to ``policy init`` is not a domain."""


_INTERNAL = re.compile(r"^  internal: \[\]$", re.MULTILINE)
_MODE = re.compile(r"^mode: enforce$", re.MULTILINE)


def agency_domains(domains: Sequence[str]) -> list[str]:
    """The domains normalised (lower case, IDNA), each once, in the order given.

    :raises PolicyInitError: for a name that is no domain, or an address.
    """
    found: list[str] = []
    for text in domains:
        if "@" in text:
            raise PolicyInitError(f"--agency {text!r} is an address: give the domain after @")
        try:
            domain = normalize_domain(text.strip())
        except DomainError as exc:
            raise PolicyInitError(f"--agency {text!r} is not a domain: {exc}") from None
        if domain not in found:
            found.append(domain)
    return found


def init_policy(domains: Sequence[str], *, monitor: bool = False,
                today: _dt.date | None = None) -> str:
    """The policy text: the default with ``domains`` as internal and ``mode`` as asked.

    :raises PolicyInitError: a bad domain.
    """
    text = default_policy_path().read_text(encoding="utf-8")
    wanted = agency_domains(domains)
    if wanted:
        listed = "\n".join(f"    - {domain}" for domain in wanted)
        text = _INTERNAL.sub(lambda _: f"  internal:\n{listed}", text, count=1)
    if monitor:
        text = _MODE.sub("mode: monitor   # watch and count first; set enforce when the "
                         "figures look right", text, count=1)
    day = (today or _dt.date.today()).isoformat()
    header = (f"# Written by `govmilter policy init` (govmilter {__version__}) on {day}"
              + (f" for {', '.join(wanted)}" if wanted else "") + ".\n"
              "# Check it after each edit with:   govmilter validate THIS-FILE\n\n")
    result = header + text
    try:
        parse_policy(result, "policy init")
    except PolicyError as exc:  # a bug here, never the user's: the template moved
        raise AssertionError(f"policy init wrote an invalid policy: {exc}") from None
    return result

"""govmilter: a Postfix milter that keeps Vietnamese official documents on official mailboxes.

The public surface is small: load a policy, scan a message, decide. Everything else lives in the
package that owns it (see docs/development.md, "Layout").

The names below are imported on first use: every ``govmilter`` command and every scan worker is
a new interpreter that imports this package first, and most need only a part of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govmilter.document.evidence import OfficialDocumentEvidence
    from govmilter.domains.classify import DomainClass, classify_address, classify_domain
    from govmilter.errors import GovmilterError
    from govmilter.mail.addresses import parse_address
    from govmilter.policy import (
        Action,
        DocumentClass,
        Mode,
        Policy,
        PolicyError,
        decide,
        decide_at_rcpt,
        load_policy,
        parse_policy,
    )
    from govmilter.policy.verdict import Envelope, MessageFacts, RecipientVerdict, Verdict
    from govmilter.scan import scan_message

__version__ = "0.1.0"

__all__ = [
    "Action", "DocumentClass", "DomainClass", "Envelope", "GovmilterError", "MessageFacts",
    "Mode", "OfficialDocumentEvidence", "Policy", "PolicyError", "RecipientVerdict", "Verdict",
    "__version__", "classify_address", "classify_domain", "decide", "decide_at_rcpt",
    "load_policy", "parse_address", "parse_policy", "scan_message",
]

#: The module each public name comes from.
_HOMES = {
    "OfficialDocumentEvidence": "govmilter.document.evidence",
    **dict.fromkeys(("DomainClass", "classify_address", "classify_domain"),
                    "govmilter.domains.classify"),
    "GovmilterError": "govmilter.errors",
    "parse_address": "govmilter.mail.addresses",
    **dict.fromkeys(("Action", "DocumentClass", "Mode", "Policy", "PolicyError", "decide",
                     "decide_at_rcpt", "load_policy", "parse_policy"), "govmilter.policy"),
    **dict.fromkeys(("Envelope", "MessageFacts", "RecipientVerdict", "Verdict"),
                    "govmilter.policy.verdict"),
    "scan_message": "govmilter.scan",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'govmilter' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

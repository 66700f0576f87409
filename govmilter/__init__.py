"""govmilter: a Postfix milter that keeps Vietnamese official documents on official mailboxes.

The public surface is small: load a policy, scan a message, decide. Everything else lives in the
room that owns it (see DESIGN.md).
"""

from govmilter.domains import DomainClass, classify_address, classify_domain, parse_address
from govmilter.errors import GovmilterError
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
from govmilter.scan import scan_message
from govmilter.verdict import (
    Envelope,
    MessageFacts,
    OfficialDocumentEvidence,
    RecipientVerdict,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Action", "DocumentClass", "DomainClass", "Envelope", "GovmilterError", "MessageFacts",
    "Mode", "OfficialDocumentEvidence", "Policy", "PolicyError", "RecipientVerdict", "Verdict",
    "__version__", "classify_address", "classify_domain", "decide", "decide_at_rcpt",
    "load_policy", "parse_address", "parse_policy", "scan_message",
]

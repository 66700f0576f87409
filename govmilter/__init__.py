"""govmilter: a Postfix milter that keeps Vietnamese official documents on official mailboxes.

The public surface is small: load a policy, scan a message, decide. Everything else lives in the
package that owns it (see docs/development.md, "Layout").
"""

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

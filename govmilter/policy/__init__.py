"""The YAML policy: loading with file:line errors, the compiled :class:`Policy`, ``decide()``.

Also the verdict values (:mod:`.verdict`), the milter effects of a verdict as values
(:mod:`.effects`) and the policy in plain Vietnamese (:mod:`.description`).
May import: :mod:`govmilter.mail`, :mod:`govmilter.domains`, :mod:`govmilter.document`.
"""

from govmilter.document.settings import DetectionSettings, DocumentClass
from govmilter.mail.limits import Limits
from govmilter.policy.decide import (
    IMPLICIT_RULE_ID,
    ConditionCheck,
    decide,
    decide_at_rcpt,
    decide_saved,
    effective_mode,
    list_classifier,
    refusal_at_rcpt,
    rule_conditions,
    rule_mismatch,
)
from govmilter.policy.loader import PolicyError, default_policy_path, load_policy, parse_policy
from govmilter.policy.model import (
    Action,
    FailureAction,
    Mode,
    Policy,
    PolicyProblem,
    RejectScope,
    Reply,
    Rule,
    Tag,
)

__all__ = [
    "IMPLICIT_RULE_ID", "Action", "ConditionCheck", "DetectionSettings", "DocumentClass",
    "FailureAction", "Limits", "Mode", "Policy", "PolicyError", "PolicyProblem", "RejectScope",
    "Reply", "Rule", "Tag",
    "decide", "decide_at_rcpt", "decide_saved", "default_policy_path", "effective_mode",
    "list_classifier", "load_policy", "parse_policy", "refusal_at_rcpt", "rule_conditions",
    "rule_mismatch",
]

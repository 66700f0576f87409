"""The YAML policy: loading with file:line errors, the compiled :class:`Policy`, ``decide()``."""

from govmilter.policy.decide import (
    IMPLICIT_RULE_ID,
    ConditionCheck,
    decide,
    decide_at_rcpt,
    effective_mode,
    list_classifier,
    rule_conditions,
    rule_mismatch,
)
from govmilter.policy.loader import PolicyError, default_policy_path, load_policy, parse_policy
from govmilter.policy.model import (
    Action,
    DetectionSettings,
    DocumentClass,
    FailureAction,
    Limits,
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
    "decide", "decide_at_rcpt", "default_policy_path", "effective_mode", "list_classifier",
    "load_policy", "parse_policy", "rule_conditions", "rule_mismatch",
]

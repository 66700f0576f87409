"""Each evasion issue 18 reported, as it was reported, through scan and the default policy.

The broader variants of each (every layout, carrier and transformation) are in
test_issuer_and_markings.py, test_marking_places.py, test_marking_carriers.py and the property
suite test_evasion_properties.py; the same letters go through a real Postfix in
tests/integration/test_postfix.py.
"""

from __future__ import annotations

import pytest
from letters import issue18_evasions, verdict_of

from govmilter.policy.model import Action

REJECTED = (Action.REJECT, "secret-to-freemail")

EVASIONS = issue18_evasions()


@pytest.mark.parametrize("evasion", list(EVASIONS))
def test_each_reported_evasion_is_refused_to_webmail(evasion: str) -> None:
    verdict = verdict_of(EVASIONS[evasion])
    assert (verdict.action, verdict.rule) == REJECTED, verdict.evidence

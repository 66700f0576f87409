"""The per-recipient fields of the one log line per decided message, bounded.

syslog daemons cut lines at 8 KB (RFC 5424 receivers need only 2 KB): listing every recipient's
class, rule and action made a 17.7 KB line for a message to 501 recipients. Up to
:data:`LISTED_RECIPIENTS` recipients each field lists them in envelope order
(``rcpts=official,freemail``); above, it counts them per value, most frequent first
(``rcpts=official*480,freemail*21``), naming at most :data:`NAMED_VALUES` values and counting the
rest as ``other*N``. Either way a field is a comma-separated list of ``value`` or ``value*count``
(classes, actions and rule ids never hold ``,`` or ``*``), and ``recipients=N`` says how many
there were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

#: Up to this many recipients the fields name each one, in envelope order.
LISTED_RECIPIENTS = 20
#: Values named with their counts in one field; the rest are counted together as ``other``.
NAMED_VALUES = 10


def recipient_field(values: Sequence[str]) -> str:
    """One per-recipient field: ``a,b,a``, or ``a*2,b*1`` past :data:`LISTED_RECIPIENTS`."""
    if not values:
        return "-"
    if len(values) <= LISTED_RECIPIENTS:
        return ",".join(values)
    ranked = Counter(values).most_common()
    named = [f"{value}*{count}" for value, count in ranked[:NAMED_VALUES]]
    rest = sum(count for _, count in ranked[NAMED_VALUES:])
    return ",".join([*named, f"other*{rest}"] if rest else named)

"""Addresses, domains and sub-domains mapped to values, the most specific entry winning.

One matcher for every place a policy names senders: the members of its units and the rule
conditions ``sender_address`` and ``sender_domain``. Domains match as everywhere else in a policy
(:class:`~govmilter.domains.classify.DomainSuffixSet`): ``stc.gov.vn`` covers the domain and its
sub-domains, ``*.stc.gov.vn`` its sub-domains only. A lookup costs O(labels) whatever the size
of the map.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from govmilter.domains.classify import DomainSuffixSet
from govmilter.mail.addresses import Address

V = TypeVar("V")


class AddressMap(Generic[V]):
    """Entries (a mailbox ``local@domain``, a domain, or ``*.domain``) each mapped to a value.

    :meth:`find` answers the value of the most specific entry covering an address: the address
    itself, then its exact domain, then the longest parent domain. A plain entry and a ``*.``
    entry of the same name both cover that name's sub-domains; the plain one wins there (the
    policy loader refuses such pairs when they map to different values, so no tie decides
    anything). Entries must be normalised (:attr:`Address.mailbox`, ``normalize_domain``).
    """

    __slots__ = ("_domains", "_mailboxes", "_values", "entries")

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        self._mailboxes: dict[str, V] = {}
        self._values: dict[str, V] = {}
        for entry, value in entries:
            (self._mailboxes if "@" in entry else self._values).setdefault(entry, value)
        #: every entry, mailboxes first, as given (normalised)
        self.entries = (*self._mailboxes, *self._values)
        self._domains = DomainSuffixSet(self._values)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AddressMap) and self._mailboxes == other._mailboxes
                and self._values == other._values)

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"AddressMap({len(self.entries)} entries)"

    def entry_for(self, address: Address) -> str | None:
        """The most specific entry covering ``address``, or None."""
        mailbox = address.mailbox
        if mailbox is not None and mailbox in self._mailboxes:
            return mailbox
        if address.domain is None:
            return None
        return self._domains.match(address.domain)

    def find(self, address: Address) -> V | None:
        """The value of the most specific entry covering ``address``, or None."""
        entry = self.entry_for(address)
        if entry is None:
            return None
        return self._mailboxes[entry] if "@" in entry else self._values[entry]

"""The agency's units (sở, phòng, ban): which senders belong to which, from the policy's ``units:``.

A sender belongs to the unit whose member entry covers its address most specifically (see
:class:`~govmilter.domains.addressmap.AddressMap`): a listed address, then its exact domain,
then the longest listed parent domain. The loader refuses an address or a domain listed in two
units, so that order decides every case. Unit ids are declared in the policy and bounded in
number (:data:`MAX_UNITS`), which is what makes them safe as a metric label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from govmilter.domains.addressmap import AddressMap
from govmilter.mail.addresses import parse_address

#: Most units a policy may declare: each adds a few dozen series to the message counters.
MAX_UNITS = 100
#: The ``unit`` label (and store column) of mail no declared unit covers.
NO_UNIT = ""
#: "No unit" where a unit id is written: the log line's ``unit=-``, the unit filter of the
#: console and of ``govmilter incidents``. No id can be it: an id starts with a letter or digit.
NO_UNIT_SHOWN = "-"
#: A unit id: label-safe (it is a metric label value, and the log line's ``unit=``).
UNIT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of the agency: its label-safe id, its names and its members as written."""

    id: str
    name: str  #: Vietnamese, as the unit writes it: "Phòng Kế hoạch - Tài chính"
    name_en: str | None = None
    members: tuple[str, ...] = ()  #: normalised mailboxes, domains and ``*.domains``
    line: int = 0

    @property
    def title(self) -> str:
        """"Phòng Kế hoạch - Tài chính (Planning and Finance)", or the Vietnamese name alone."""
        return f"{self.name} ({self.name_en})" if self.name_en else self.name


@dataclass(frozen=True)
class Units:
    """The policy's units and the map from member entries to unit ids."""

    units: tuple[Unit, ...] = ()
    _map: AddressMap[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_map", AddressMap(
            (member, unit.id) for unit in self.units for member in unit.members))

    def __bool__(self) -> bool:
        return bool(self.units)

    @property
    def ids(self) -> tuple[str, ...]:
        """The declared ids, in policy order."""
        return tuple(unit.id for unit in self.units)

    def get(self, unit_id: str) -> Unit | None:
        """The unit with this id, or None."""
        return next((unit for unit in self.units if unit.id == unit_id), None)

    def unit_of(self, address: str) -> str | None:
        """The id of the unit ``address`` belongs to, or None (no units, or none covers it)."""
        if not self.units:
            return None
        return self._map.find(parse_address(address))

    def label(self, address: str) -> str:
        """:meth:`unit_of` as a metric label and store value: :data:`NO_UNIT` for none."""
        return self.unit_of(address) or NO_UNIT


def shown_unit(unit_id: str | None) -> str:
    """A unit id as the log line writes it: the id, or :data:`NO_UNIT_SHOWN` for none."""
    return unit_id or NO_UNIT_SHOWN


def unit_filter(text: str) -> str | None:
    """A unit filter as typed (an id in any case, or :data:`NO_UNIT_SHOWN`) as
    :attr:`~govmilter.store.IncidentQuery.unit`: the id, or :data:`NO_UNIT` for mail from no
    unit; None when it is neither."""
    typed = text.strip().lower()
    if typed == NO_UNIT_SHOWN:
        return NO_UNIT
    return typed if UNIT_ID_RE.match(typed) else None

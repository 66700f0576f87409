"""The DNS checks' settings (the policy's ``dns:`` section) as values: no dnspython here."""

from __future__ import annotations

from dataclasses import dataclass

from govmilter.domains.classify import DomainClass

#: MX hosts of consumer webmail: a custom domain whose mail goes there is free webmail.
#: An entry matches the host and its sub-domains; ``*.name`` only the sub-domains.
CONSUMER_MX = (
    "gmail-smtp-in.l.google.com",  # gmail.com, alt1..4.gmail-smtp-in.l.google.com
    "*.olc.protection.outlook.com",  # outlook.com / hotmail.com ("OutLook Consumer")
    "yahoodns.net",  # mta5.am0.yahoodns.net, mx-eu.mail.gm0.yahoodns.net (business: see HOSTED_MX)
    "mail.icloud.com",  # iCloud+ custom e-mail domains
)

#: MX hosts of business hosting on infrastructure shared with consumer webmail (Google
#: Workspace, Microsoft 365, Yahoo and Zoho business): a company's own mail, rented abroad.
HOSTED_MX = (
    "aspmx.l.google.com", "googlemail.com", "smtp.google.com",
    "*.mail.protection.outlook.com", "mail.eo.outlook.com", "mx.microsoft",
    "mx-biz.mail.am0.yahoodns.net", "biz.mail.yahoo.com",
    "zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp",
)


@dataclass(frozen=True, slots=True)
class Nameserver:
    """A DNS server to ask: an IP address and a port."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == 53 else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """The policy's ``dns:`` section: how MX and existence lookups are made and bounded."""

    enabled: bool = True
    #: servers to ask; empty means the system's ``/etc/resolv.conf``
    nameservers: tuple[Nameserver, ...] = ()
    timeout: float = 1.0  #: seconds for one lookup, retries included
    budget: float = 2.0  #: seconds for all lookups of one message, run concurrently
    cache_size: int = 10000  #: answers kept (least recently used dropped first)
    negative_ttl: float = 300.0  #: seconds to keep "no such name" / "no MX" without an SOA TTL
    failure_ttl: float = 30.0  #: seconds to keep a time-out or server failure
    max_ttl: float = 3600.0  #: upper bound on any answer's TTL (MX records change unannounced)
    consumer_mx: tuple[str, ...] = CONSUMER_MX
    hosted_mx: tuple[str, ...] = HOSTED_MX
    #: the class given to domains whose MX is at ``hosted_mx``
    hosted_class: DomainClass = DomainClass.HOSTED

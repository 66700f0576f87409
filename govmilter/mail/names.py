"""Domain names as written in mail: normalisation to one canonical form, and back for display."""

from __future__ import annotations

import idna

from govmilter.errors import GovmilterError


class DomainError(GovmilterError, ValueError):
    """The text is not a valid domain name."""


def normalize_domain(text: str) -> str:
    """Return the canonical form of a domain: IDNA A-labels, lower case, no trailing dot.

    Non-ASCII names are processed as UTS #46 (non-transitional) says, as browsers and the
    ``idna`` package do: mapped (case, width, compatibility forms, ideographic full stops),
    then each label checked against IDNA 2008 and encoded. Labels are letters, digits, ``-``
    and ``_``, never starting or ending with ``-``; an ``xn--`` label must be valid punycode of
    a valid IDNA 2008 label; the top-level label is not all digits, so an IP address
    (``1.2.3.4``) is refused: mail to a host by address is written ``[1.2.3.4]``.

    :raises DomainError: if the text cannot be a host name.
    """
    name = text.strip().rstrip(".")
    if not name:
        raise DomainError(f"empty domain in {text!r}")
    if name.startswith("[") and name.endswith("]"):
        return name.lower()  # address literal: kept as is, never matches a list
    if not name.isascii():
        try:
            name = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError) as exc:
            raise DomainError(f"invalid internationalised domain {text!r}: {exc}") from exc
    labels = [_a_label(label, text) for label in name.split(".")]
    if labels[-1].isdigit():
        if _is_ip_address(name):
            raise DomainError(f"{text!r} is an IP address, not a domain")
        raise DomainError(f"top-level label {labels[-1]!r} of {text!r} is all digits")
    result = ".".join(labels)
    if len(result) > 253:
        raise DomainError(f"domain longer than 253 characters: {text[:40]!r}...")
    return result


def _a_label(label: str, text: str) -> str:
    """One label of ``text`` (already UTS #46-mapped) as a lower-case A-label."""
    if not label:
        raise DomainError(f"empty label in domain {text!r}")
    if label.startswith("-") or label.endswith("-"):
        raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")
    if label.isascii():
        ascii_label = label.lower()
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise DomainError(f"invalid internationalised label {label!r} in {text!r}") from exc
    if len(ascii_label) > 63 or not all(ch.isalnum() or ch in "-_" for ch in ascii_label):
        raise DomainError(f"invalid label {label!r} in domain {text!r}")
    if ascii_label.startswith("xn--"):
        try:
            unicode_label = idna.ulabel(ascii_label)  # punycode of a valid IDNA 2008 label
        except (idna.IDNAError, UnicodeError) as exc:
            raise DomainError(
                f"label {label!r} in domain {text!r} is not valid punycode") from exc
        if unicode_label.startswith("-") or unicode_label.endswith("-"):
            raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")
    return ascii_label


def _is_ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def display_domain(domain: str) -> str:
    """Return the Unicode (U-label) form of a normalised domain, for people to read."""
    try:
        return ".".join(
            idna.ulabel(label) if label.startswith("xn--") else label
            for label in domain.split(".")
        )
    except (idna.IDNAError, UnicodeError):
        return domain

"""Domain names as written in mail: normalisation to one canonical form, and back for display."""

from __future__ import annotations

from govmilter.errors import GovmilterError


class DomainError(GovmilterError, ValueError):
    """The text is not a valid domain name."""


def normalize_domain(text: str) -> str:
    """Return the canonical form of a domain: IDNA A-labels, lower case, no trailing dot.

    Labels are letters, digits, ``-`` and ``_``, never starting or ending with ``-``; an
    ``xn--`` label must be valid punycode; the top-level label is not all digits, so an IP
    address (``1.2.3.4``) is refused: mail to a host by address is written ``[1.2.3.4]``.

    :raises DomainError: if the text cannot be a host name.
    """
    name = text.strip().rstrip(".")
    if not name:
        raise DomainError(f"empty domain in {text!r}")
    if name.startswith("[") and name.endswith("]"):
        return name.lower()  # address literal: kept as is, never matches a list
    labels = []
    for label in name.split("."):
        if not label:
            raise DomainError(f"empty label in domain {text!r}")
        try:
            ascii_label = label.encode("idna").decode("ascii") if not label.isascii() else label
        except UnicodeError as exc:
            raise DomainError(f"invalid internationalised label {label!r} in {text!r}") from exc
        ascii_label = ascii_label.lower()
        # IDNA maps some labels to nothing (a lone soft hyphen) or splits them (U+3002 is a dot
        # to IDNA): refuse both, so that a normalised domain always normalises to itself.
        if not ascii_label or len(ascii_label) > 63 or \
                not all(ch.isalnum() or ch in "-_" for ch in ascii_label):
            raise DomainError(f"invalid label {label!r} in domain {text!r}")
        _check_label(ascii_label, label, text)
        labels.append(ascii_label)
    if labels[-1].isdigit():
        if _is_ip_address(name):
            raise DomainError(f"{text!r} is an IP address, not a domain")
        raise DomainError(f"top-level label {labels[-1]!r} of {text!r} is all digits")
    result = ".".join(labels)
    if len(result) > 253:
        raise DomainError(f"domain longer than 253 characters: {text[:40]!r}...")
    return result


def _check_label(ascii_label: str, label: str, text: str) -> None:
    """Refuse a hyphen at either end of a label (RFC 952/1123), and A-labels that are not
    punycode. Checked on the A-label, and on its U-label, so the result normalises to itself."""
    if ascii_label.startswith("-") or ascii_label.endswith("-"):
        raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")
    if not ascii_label.startswith("xn--"):
        return
    try:
        unicode_label = ascii_label.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise DomainError(f"label {label!r} in domain {text!r} is not valid punycode") from exc
    if unicode_label.startswith("-") or unicode_label.endswith("-"):
        raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")


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
            label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            for label in domain.split(".")
        )
    except UnicodeError:
        return domain

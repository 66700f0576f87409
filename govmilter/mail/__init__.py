"""Mail as text: addresses and the domain names in them, the bounded MIME walk, decoding.

The bottom layer. It owns syntax, not meaning: an address is parsed and its domain normalised
here; what the domain *is* (official, freemail, look-alike) is :mod:`govmilter.domains`' job.
May import: the standard library and maintained parsers only (no other govmilter package).
"""

"""What a domain is for the .gov.vn policy: classification, look-alikes, DNS intelligence.

May import: :mod:`govmilter.mail`. :mod:`.dnsintel` is the only importer of dnspython.
"""

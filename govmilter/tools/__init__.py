"""The offline tools: check/explain rendering, replay, corpus accuracy, the report.

May import every pure layer; never :mod:`govmilter.server` (the tools run without a milter).
"""

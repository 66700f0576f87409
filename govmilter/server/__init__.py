"""The daemon: the pymilter adapter, workers, reload, metrics, spool, privileges.

The only importers of pymilter and prometheus_client. May import every pure layer
(``mail``, ``domains``, ``document``, ``policy``, ``scan``); nothing below imports from here.
"""

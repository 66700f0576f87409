"""The web console for compliance officers: overview, incidents, held mail, export, audit log.

A Flask application (server-side Jinja2 templates, autoescaped) served by waitress on loopback,
behind the agency's reverse proxy for remote use (docs/console.md). It reads and changes the
incident store through :class:`govmilter.store.IncidentStore`, the same code as
``govmilter incidents``; everything its pages need ships in this package.

May import the pure layers, ``store`` and ``tools``; nothing imports it but the command line.
"""

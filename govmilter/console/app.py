"""The console's Flask application: sign-in, roles, CSRF, and the pages.

Security, in one place (docs/console.md, "Security"):

- every page but the sign-in page and the style sheet needs a signed-in account (or the
  trusted proxy's user header, when configured); the account is read from the store on every
  request, so a disabled account or a changed role takes effect at once;
- the session is Flask's signed cookie (HttpOnly, SameSite=Strict, Secure behind TLS) with an
  idle time-out and a longest lifetime;
- every POST carries the session's CSRF token; one without it is refused with 400;
- sign-in attempts are rate-limited (:mod:`govmilter.console.throttle`);
- templates are autoescaped: subjects, file names and addresses come from mail and are shown as
  text; the Content-Security-Policy forbids scripts altogether (the pages have none).
"""

from __future__ import annotations

import datetime as _dt
import hmac
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from govmilter.console.accounts import authenticate
from govmilter.console.held import HeldContent, HeldMail
from govmilter.console.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    parse_vn_date,
    start_of_vn_day,
    term,
    translate,
    vn_date,
    vn_time,
)
from govmilter.console.overview import make_overview
from govmilter.console.settings import ConsoleSettings
from govmilter.console.throttle import FREE_FAILURES, LoginThrottle
from govmilter.errors import GovmilterError
from govmilter.policy.units import NO_UNIT_SHOWN, unit_filter
from govmilter.store import Incident, IncidentQuery, IncidentStatus, IncidentStore, StoreError
from govmilter.store.accounts import Account, Role, get_account, list_accounts, set_account
from govmilter.tools.charts import bar_chart
from govmilter.tools.incidents import export_csv, export_json

HERE = Path(__file__).resolve().parent
#: Incidents per page of the list.
PAGE_SIZE = 50
#: The list counts its matches up to this many ("more than 10.000" past it).
COUNT_LIMIT = 10_000
#: Longest reason an officer may type (the store keeps it whole).
MAX_REASON = 2000
#: Most audit entries the audit page shows.
AUDIT_PAGE = 200
SECRECY_LEVELS = ("MẬT", "TỐI MẬT", "TUYỆT MẬT")
ACTIONS = ("tag", "quarantine", "reject")
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

View = TypeVar("View", bound=Callable[..., Any])


def create_app(store: IncidentStore, settings: ConsoleSettings | None = None,
               held_mail: HeldMail | None = None,
               clock: Callable[[], float] = time.time) -> Flask:
    """The console application over ``store``; ``held_mail`` releases and deletes held mail
    (None: those buttons say the operations are not available)."""
    settings = settings or ConsoleSettings()
    app = Flask(__name__, template_folder=str(HERE / "templates"),
                static_folder=str(HERE / "static"), static_url_path="/static")
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_NAME="govmilter_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its file name
    app.jinja_env.filters["dict_without"] = lambda values, key: {
        k: v for k, v in values.items() if k != key}
    throttle = LoginThrottle()

    # ---- per request: language, session, account, CSRF --------------------------------------
    def text(key: str, **values: object) -> str:
        return translate(key, g.lang, **values)

    unit_titles = dict(settings.unit_titles)

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {"t": text, "term": lambda prefix, value: term(prefix, value, g.lang),
                "vn_time": vn_time, "vn_date": vn_date, "user": g.get("account"),
                "csrf_token": session.get("csrf", ""), "lang": g.lang, "Role": Role,
                "count_text": number, "unit_titles": unit_titles,
                "unit_options": unit_options() if request.endpoint in ("incidents", "held")
                else []}

    def unit_options() -> list[tuple[str, str]]:
        """The unit filter's choices, (value, title): the declared units, the one asked for
        when the policy no longer declares it, and no unit; none when there is nothing to
        choose."""
        asked = unit_filter(request.args.get("unit", ""))
        options = list(unit_titles.items())
        if asked and asked not in unit_titles:
            options.append((asked, asked))
        if not options and asked is None:
            return []
        return [*options, (NO_UNIT_SHOWN, text("no_unit"))]

    def fresh_session() -> None:
        session.clear()
        session["csrf"] = secrets.token_urlsafe(32)
        session["seen"] = clock()

    @app.before_request
    def guard() -> BaseResponse | None:
        g.lang = request.cookies.get("lang") if request.cookies.get("lang") in LANGUAGES \
            else DEFAULT_LANGUAGE
        now = clock()
        expired = bool(session) and (
            now - float(session.get("seen", 0)) > settings.idle_minutes * 60
            or now - float(session.get("since", now)) > settings.longest_hours * 3600)
        if expired or "csrf" not in session:
            fresh_session()
            if expired:
                session["expired"] = True  # said once, on the sign-in page
        session["seen"] = now
        if request.method == "POST" and not hmac.compare_digest(
                str(request.form.get("csrf", "")), str(session["csrf"])):
            return page("message.html", 400, message=text("csrf"))
        if request.endpoint in ("static", "login", "language"):
            return None
        account = current_account()
        if account is None:
            if request.method == "GET":
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            return page("message.html", 401, message=text("session_expired"))
        g.account = account
        return None

    def current_account() -> Account | None:
        if settings.trusted_user_header:
            name = request.headers.get(settings.trusted_user_header, "").strip()
        else:
            name = str(session.get("user", ""))
        if not name:
            return None
        account = get_account(store, name)
        return account if account is not None and not account.disabled else None

    @app.after_request
    def security_headers(response: BaseResponse) -> BaseResponse:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    def number(value: int) -> str:
        shown = f"{min(value, COUNT_LIMIT):,}".replace(",", ".")
        return text("more_than", count=shown) if value > COUNT_LIMIT else shown

    def page(template: str, status: int = 200, **values: Any) -> Response:
        return Response(render_template(template, **values), status,
                        content_type="text/html; charset=utf-8")

    def requires(role: Role) -> Callable[[View], View]:
        def wrap(view: View) -> View:
            @wraps(view)
            def checked(*args: Any, **kwargs: Any) -> Any:
                if not g.account.role.may(role):
                    return page("message.html", 403, message=text("forbidden"))
                return view(*args, **kwargs)
            return checked  # type: ignore[return-value]
        return wrap

    def actor() -> str:
        return str(g.account.name)

    # ---- sign-in ----------------------------------------------------------------------------
    @app.route("/login", methods=["GET", "POST"])
    def login() -> BaseResponse:
        target = local_path(request.values.get("next", ""))
        if settings.trusted_user_header:
            return redirect(target)
        if request.method == "GET":
            notice = text("session_expired") if session.pop("expired", False) else ""
            return page("login.html", error=notice, next=target)
        name = request.form.get("username", "").strip()[:64]
        client = f"ip:{request.remote_addr}"
        wait = throttle.wait(f"name:{name.lower()}", client)
        if wait > 0:
            store.audit(name or "?", "login-blocked", None, f"from {request.remote_addr}")
            return page("login.html", 429, error=text("login_blocked", seconds=int(wait) + 1),
                        next=target)
        account = authenticate(store, name, request.form.get("password", ""))
        if account is None:
            throttle.failed(f"name:{name.lower()}")
            throttle.failed(client, FREE_FAILURES * 4)
            store.audit(name or "?", "login-failed", None, f"from {request.remote_addr}")
            return page("login.html", 401, error=text("login_failed"), next=target)
        throttle.succeeded(f"name:{name.lower()}")
        fresh_session()  # a new CSRF token after sign-in
        session["user"] = account.name
        session["since"] = clock()
        store.audit(account.name, "login", None, f"from {request.remote_addr}")
        return redirect(target)

    @app.post("/logout")
    def logout() -> BaseResponse:
        store.audit(actor(), "logout")
        fresh_session()
        return redirect(url_for("login"))

    @app.get("/lang/<code>")
    def language(code: str) -> BaseResponse:
        response = redirect(local_path(request.args.get("next", "")))
        if code in LANGUAGES:
            response.set_cookie("lang", code, max_age=365 * 86400, httponly=True,
                                samesite="Strict", secure=settings.secure_cookies)
        return response

    # ---- pages ------------------------------------------------------------------------------
    @app.get("/")
    def overview() -> Response:
        figures = make_overview(store, units=tuple(uid for uid, _ in settings.unit_titles))
        chart = bar_chart([(rule, float(n)) for rule, n in figures.by_rule], text("by_rule"),
                          lambda v: f"{int(v):,}".replace(",", "."), width=640) \
            if figures.by_rule else ""
        peak = max((d.compliant + d.noncompliant for d in figures.days), default=0)
        return page("overview.html", o=figures, rule_chart=Markup(chart), peak=peak)

    @app.get("/incidents")
    def incidents() -> Response:
        query, problems = query_from_request()
        found = store.list_incidents(query)
        return page("incidents.html", page_=found, filters=request.args, problems=problems,
                    older=cursor_of(found.incidents[-1]) if len(found.incidents) == PAGE_SIZE
                    else None, actions=ACTIONS, secrecy_levels=SECRECY_LEVELS,
                    statuses=[s.value for s in IncidentStatus], held_only=False)

    @app.get("/incidents/export.<kind>")
    def export(kind: str) -> BaseResponse:
        if kind not in ("csv", "json"):
            abort(404)
        query, _ = query_from_request()
        query = replace(query, before=None)
        store.audit(actor(), "export", None, f"{kind} from the console")
        now = _dt.datetime.now(_dt.UTC)

        def pieces() -> Iterator[str]:
            found = store.iter_incidents(query)
            yield from export_csv(found) if kind == "csv" else export_json(found, now)

        stamp = now.strftime("%Y%m%d-%H%M")
        return Response(stream_with_context(pieces()),
                        content_type="text/csv; charset=utf-8" if kind == "csv"
                        else "application/json; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="incidents-{stamp}.{kind}"'})

    @app.get("/incidents/<incident_id>")
    def incident(incident_id: str) -> Response:
        found = store.get_incident(incident_id)
        if found is None:
            return page("message.html", 404, message=text("not_found"))
        store.audit(actor(), "show", found.id, "console")
        return page("incident.html", i=found)

    @app.get("/held")
    def held() -> Response:
        query, problems = query_from_request()
        query = replace(query, held=True, status=IncidentStatus.OPEN)
        found = store.list_incidents(query)
        return page("incidents.html", page_=found, filters=request.args, problems=problems,
                    older=cursor_of(found.incidents[-1]) if len(found.incidents) == PAGE_SIZE
                    else None, actions=ACTIONS, secrecy_levels=SECRECY_LEVELS,
                    statuses=[], held_only=True)

    @app.get("/held/<incident_id>")
    def held_message(incident_id: str) -> Response:
        found = store.get_incident(incident_id)
        if found is None or not found.held:
            return page("message.html", 404, message=text("not_found"))
        content, problem = held_content(found)
        store.audit(actor(), "show-held", found.id, "console")
        return page("held.html", i=found, content=content,
                    available=held_mail is not None, notice=request.args.get("done", ""),
                    error=problem)

    @app.post("/held/<incident_id>/<decision>")
    @requires(Role.OFFICER)
    def decide(incident_id: str, decision: str) -> BaseResponse:
        if decision not in ("release", "delete"):
            abort(404)
        found = store.get_incident(incident_id)
        if found is None or not found.held:
            return page("message.html", 404, message=text("not_found"))
        reason = request.form.get("reason", "").strip()[:MAX_REASON]
        error = ""
        if held_mail is None:
            error = text("quarantine_unavailable")
        elif not reason:
            error = text("reason_required")
        elif found.status is not IncidentStatus.OPEN:
            error = text("not_held")
        if error or held_mail is None:
            content, _ = held_content(found)
            return page("held.html", 400, i=found, content=content,
                        available=held_mail is not None, notice="", error=error)
        operation = held_mail.release if decision == "release" else held_mail.delete
        try:
            operation(store, found.id, actor(), reason)
        except GovmilterError as exc:  # Postfix refused, or the store failed after it
            return page("held.html", 409, i=found, content=None, available=True, notice="",
                        error=str(exc))
        return redirect(url_for("held_message", incident_id=found.id, done=decision))

    @app.get("/audit")
    def audit() -> Response:
        return page("audit.html", entries=store.audit_entries(limit=AUDIT_PAGE))

    @app.route("/accounts", methods=["GET", "POST"])
    @requires(Role.ADMIN)
    def accounts() -> Response:
        notice = error = ""
        if request.method == "POST":
            name = request.form.get("name", "")
            role = request.form.get("role", "")
            change = request.form.get("change", "")
            if name == actor():
                error = text("cannot_change_self")
            else:
                try:
                    if change == "role" and role in Role.__members__.values():
                        set_account(store, name, actor(), role=Role(role))
                    elif change in ("disable", "enable"):
                        set_account(store, name, actor(), disabled=change == "disable")
                    notice = text("changed")
                except StoreError as exc:
                    error = str(exc)
        return page("accounts.html", accounts=list_accounts(store), notice=notice, error=error,
                    roles=list(Role))

    # ---- helpers ----------------------------------------------------------------------------
    def held_content(incident: Incident) -> tuple[HeldContent | None, str]:
        """The held message's headers and text, and what went wrong reading it ('' if not)."""
        if held_mail is None or incident.status is not IncidentStatus.OPEN:
            return None, ""
        try:
            return held_mail.content(store, incident), ""
        except GovmilterError as exc:
            return None, str(exc)

    def query_from_request() -> tuple[IncidentQuery, list[str]]:
        args = request.args
        problems: list[str] = []

        def day(name: str) -> _dt.date | None:
            value = args.get(name, "").strip()
            if not value:
                return None
            parsed = parse_vn_date(value)
            if parsed is None:
                problems.append(f"{text(name)}: dd/mm/yyyy")
            return parsed

        def choice(name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
            value = args.get(name, "").strip()
            return value if value in allowed else None

        since, until = day("since"), day("until")
        status = choice("status", [s.value for s in IncidentStatus])
        unit = unit_filter(args.get("unit", ""))
        if unit is None and args.get("unit", "").strip():
            problems.append(f"{text('unit')}: {text('unit_invalid')}")
        return IncidentQuery(
            since=start_of_vn_day(since) if since else None,
            until=start_of_vn_day(until + _dt.timedelta(days=1)) if until else None,
            rule_id=args.get("rule", "").strip() or None,
            sender=args.get("sender", "").strip() or None,
            status=IncidentStatus(status) if status else None,
            action=choice("action", ACTIONS),
            secrecy=choice("secrecy", SECRECY_LEVELS),
            document_number=args.get("number", "").strip() or None,
            text=args.get("q", "").strip()[:200] or None,
            unit=unit,
            before=cursor_from(args.get("before", "")),
            limit=PAGE_SIZE, count_limit=COUNT_LIMIT,
        ), problems

    return app


def local_path(text: str) -> str:
    """``text`` when it is a path on this site, else ``/``: a sign-in or language link cannot
    send the browser elsewhere (``//host`` and ``/\\host`` are other sites to a browser)."""
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "/"


def cursor_of(incident: Any) -> str:
    """The keyset cursor after ``incident`` (its time and id) for the next page's link."""
    return f"{incident.created_at.isoformat()}~{incident.id}"


def cursor_from(text: str) -> tuple[_dt.datetime, str] | None:
    """A cursor from a link; None when absent or not one of ours."""
    at, _, key = text.partition("~")
    if not key:
        return None
    try:
        moment = _dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    return (moment, key[:32]) if moment.tzinfo is not None else None

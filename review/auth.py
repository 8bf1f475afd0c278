"""Logging in and out, sessions on every request, CSRF on every form, security headers."""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from muara.review.context import REVIEW, SESSION, ReviewContext
from muara.review.passwords import check_password, hash_password, needs_rehash

log = logging.getLogger(__name__)

SESSION_COOKIE = "muara_review"
LOGIN_CSRF_COOKIE = "muara_review_login"
# Routes a visitor without a session may reach.
PUBLIC = frozenset({"login", "login_post", "static"})
LOGIN_FAILED = "Nama pengguna atau kata sandi salah, atau akun sedang dikunci sementara."
# Pages show personal data: never cached, never framed, no script but our own file.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def address(request: web.Request) -> str:
    """The client's address as the desk sees it (behind a proxy: the proxy's)."""
    return request.remote or "unknown"


def desk_path(request: web.Request) -> str:
    """The path the desk is mounted at ("/review/"): the cookies' path."""
    return str(request.app.router["queue"].url_for())


def _set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int
) -> None:
    context = request.app[REVIEW]
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=desk_path(request),
        httponly=True,
        samesite="Strict",
        secure=context.settings.cookie_secure,
    )


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    return route.name if route is not None else None


def _same_origin(request: web.Request) -> bool:
    """A browser's Origin (or Referer) on a POST must be this host: a second CSRF guard."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, CSRF and headers for every request to the desk."""
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as err:
        err.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = request.app[REVIEW]
    if request.method == "POST" and not _same_origin(request):
        raise web.HTTPForbidden(text="Permintaan dari situs lain ditolak (CSRF).")
    if _route_name(request) in PUBLIC:
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE)
    session = (
        await context.accounts.session(token, timedelta(minutes=context.settings.idle_minutes))
        if token
        else None
    )
    if session is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(request.app.router["login"].url_for())
        raise web.HTTPForbidden(text="Sesi berakhir: silakan masuk lagi.")
    if request.method == "POST":
        form = await request.post()
        given = form.get("csrf")
        if not isinstance(given, str) or not hmac.compare_digest(given, session.csrf_token):
            log.warning("review desk: a form without a valid CSRF token was refused")
            raise web.HTTPForbidden(text="Token formulir tidak sah (CSRF). Muat ulang halaman.")
    request[SESSION] = session
    return await handler(request)


def _login_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"csrf": token, "error": error}, status=status
    )
    _set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def login_form(request: web.Request) -> web.Response:
    """The login page."""
    return _login_page(request)


async def login(request: web.Request) -> web.Response:
    """Check a password; rate-limited per address, locked out per account after failures."""
    context: ReviewContext = request.app[REVIEW]
    form = await request.post()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = form.get("csrf")
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(given, cookie):
        raise web.HTTPForbidden(text="Token formulir tidak sah (CSRF). Muat ulang halaman.")
    where = address(request)
    if not context.throttle.allow(where):
        return _login_page(request, "Terlalu banyak percobaan. Coba lagi sebentar lagi.", 429)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))
    record = await context.accounts.login_record(username) if username else None
    now = context.clock()
    if record is None or record.user.disabled:
        await check_password(None, password)
        await context.desk.audit_as("anonymous", "login-failed", {"reason": "unknown"}, where)
        return _login_page(request, LOGIN_FAILED, 401)
    if record.locked_until is not None and record.locked_until > now:
        await check_password(None, password)
        await context.desk.audit_as(record.user.actor, "login-locked", {}, where)
        return _login_page(request, LOGIN_FAILED, 401)
    if not await check_password(record.password_hash, password):
        locked = await context.accounts.login_failed(
            record.user.id,
            limit=context.settings.lockout_failures,
            lock_for=timedelta(minutes=context.settings.lockout_minutes),
        )
        await context.desk.audit_as(
            record.user.actor, "lockout" if locked else "login-failed", {}, where
        )
        if locked:
            log.warning("review desk: an account was locked after repeated failed logins")
        return _login_page(request, LOGIN_FAILED, 401)
    await context.accounts.login_succeeded(record.user.id)
    if needs_rehash(record.password_hash):
        await context.accounts.set_password(username, hash_password(password))
    lifetime = timedelta(hours=context.settings.session_hours)
    token, _csrf = await context.accounts.open_session(record.user.id, lifetime)
    await context.desk.audit(record.user, "login", address=where)
    response = web.HTTPSeeOther(request.app.router["queue"].url_for())
    _set_cookie(response, request, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    response.del_cookie(LOGIN_CSRF_COOKIE, path=desk_path(request))
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    context = request.app[REVIEW]
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await context.accounts.close_session(token)
    await context.desk.audit(request[SESSION].user, "logout", address=address(request))
    response = web.HTTPSeeOther(request.app.router["login"].url_for())
    response.del_cookie(SESSION_COOKIE, path=desk_path(request))
    raise response

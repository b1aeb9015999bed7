"""What protects every page: security headers, and the CSRF check on every form and htmx post.

Pages carry the session's CSRF token in each form (`csrf_token`) and, for htmx, in the
`X-CSRF-Token` header (set once on <body>). Before sign-in there is no session: the sign-in form
is protected by a double-submit cookie instead.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import DomainError, ErrorKind

SESSION_COOKIE = "rpt_session"
SIGNIN_CSRF_COOKIE = "rpt_signin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline script and nothing from elsewhere: every script is a file of ours or a vendored one.
# Inline styles are allowed for the charts' SVG (ECharts writes style attributes).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class CsrfRefused(DomainError):
    """A post without the form's token: another site may be trying to act as the signed-in person."""

    code = "csrf-refused"
    kind = ErrorKind.FORBIDDEN


class SecurityHeaders:
    """Adds the security headers to every response; pages are never cached (they hold personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse an unsafe request whose token is not the expected one (compared in constant time)."""
    if request.method in SAFE_METHODS:
        return
    token = await submitted_token(request)
    if not expected or not token or not secrets.compare_digest(token, expected):
        raise CsrfRefused("the form has expired or did not come from this site: reload the page and try again")

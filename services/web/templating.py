"""The pages' templates: Jinja2, autoescaped, translated, with the locale's number and date formats.

Templates only lay out what the page module computed: no rule lives in a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from services.web.i18n import LANGUAGE_COOKIE, Formats, Language, translations
from services.web.navigation import navigation

_ENVIRONMENTS: dict[Language, Environment] = {}


def environment(language: Language) -> Environment:
    """One environment per language (its catalogue installed), built once."""
    env = _ENVIRONMENTS.get(language)
    if env is None:
        env = Environment(
            loader=PackageLoader("services.web", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        formats = Formats(language)
        env.filters.update(
            number=formats.number,
            percent=formats.percent,
            day=formats.day,
            instant=formats.instant,
            period=formats.period,
        )
        _ENVIRONMENTS[language] = env
    return env


def language_of(request: Request) -> Language:
    return Language.choose(request.cookies.get(LANGUAGE_COOKIE))


def gettext(request: Request, message: str) -> str:
    """A message in the reader's language, for texts a page module composes (templates use `_`)."""
    return translations(language_of(request)).gettext(message)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or an htmx fragment) in the reader's language."""
    language = language_of(request)
    page = environment(language).get_template(template)
    user = getattr(request.state, "user", None)
    entries = getattr(request.app.state, "nav_entries", ())
    values = {
        "request": request,
        "language": language,
        "user": user,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "nav": navigation(user, request.url.path, entries, translations(language)),
        **(context or {}),
    }
    return HTMLResponse(page.render(values), status_code=status_code, headers=dict(headers or {}))

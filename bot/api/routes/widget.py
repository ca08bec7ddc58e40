"""The website chat widget's files and a demo shop page that embeds it.

* ``GET /``: demo shop page with the widget embedded by one ``<script>`` tag;
* ``GET /widget.js``: the embeddable widget (plain JavaScript, no build step; the server
  fills in the names it shares with the Python code, :data:`SCRIPT_NAMES`); it loads
  ``/widget/widget.css`` and ``/vendor/socket.io.min.js`` (socket.io-client 4) from here;
* ``GET /widget/demo.css``: the demo page's own style.

The shop page tells the widget where Rasa's socket.io channel is: ``$TOUCHLINE_RASA_PUBLIC_URL``
(the URL browsers reach Rasa at), else the page's host on port ``$RASA_PORT`` (5005).
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from bot.api.routes.demo_login import identity_token, login_of
from bot.config import settings
from bot.support.messages import CARDS_TYPE

router = APIRouter(tags=["widget"])

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {
    "widget.js": (STATIC / "widget" / "widget.js", "text/javascript"),
    "widget/widget.css": (STATIC / "widget" / "widget.css", "text/css"),
    "widget/demo.css": (STATIC / "widget" / "demo.css", "text/css"),
    "widget/demo.js": (STATIC / "widget" / "demo.js", "text/javascript"),
    "vendor/socket.io.min.js": (STATIC / "vendor" / "socket.io.min.js", "text/javascript"),
}
"""URL path (without the leading slash) → (file, media type) of every served widget file."""
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"}
SCRIPT_NAMES = {"{{CARDS_TYPE}}": CARDS_TYPE}
"""Placeholder in ``widget.js`` → the value the server puts there: names of the bot-message
protocol defined once, in Python (:mod:`bot.support.messages`)."""


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45}")
"""A DNS name or IPv4 address, or an IPv6 address (without its brackets)."""


def rasa_public_url(request: Request) -> str:
    """Where browsers reach the Rasa server.

    Args:
        request: the page request (its host name is the default Rasa host).

    Returns:
        ``$TOUCHLINE_RASA_PUBLIC_URL`` without a trailing slash, else
        ``http://<page host>:<$RASA_PORT or 5005>``.

    Raises:
        HTTPException: 500 when the configured URL is not an ``http(s)://host`` URL; 400
            when the page's ``Host`` header is not a plain host name or IP address (it is
            copied into the page's Content-Security-Policy header).
    """
    config = settings()
    url = config.rasa_public_url
    if not url:
        port = config.rasa_port
        try:
            host = request.url.hostname or ""
        except ValueError:  # e.g. "Host: [x", an unclosed IPv6 bracket
            host = ""
        if not _HOST.fullmatch(host):
            raise HTTPException(400, "the Host header must be a host name or IP address")
        return f"{request.url.scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HTTPException(500, "TOUCHLINE_RASA_PUBLIC_URL must be an http(s) URL")
    return url


def _websocket_origin(url: str) -> str:
    """The ``ws(s)://host`` origin matching an ``http(s)://host`` URL (for the CSP)."""
    parts = urlsplit(url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def _identity_attributes(cookie: str | None) -> tuple[str, str]:
    """The widget tag's ``data-identity-token`` attribute and the page's signed-in name
    for the demo login in ``cookie`` (both empty for a visitor, or with identity off)."""
    if not settings().identity_secret:
        return "", ""
    login = login_of(cookie)
    if login is None:
        return "", ""
    token = html.escape(identity_token(login), quote=True)
    return f' data-identity-token="{token}"', html.escape(login.name)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def demo_shop(request: Request,
              touchline_demo_login: str | None = Cookie(None)) -> HTMLResponse:
    """The demo shop page with the widget embedded; a signed-in demo customer's page puts
    an identity token on the widget's tag (:mod:`bot.api.routes.demo_login`).

    Returns:
        HTML with a Content-Security-Policy that allows scripts and styles from this
        service only, connections to this service and the Rasa server (socket.io and the
        voice gateway) and ``blob:`` media (the widget plays spoken replies from memory).
    """
    rasa = rasa_public_url(request)
    page = (STATIC / "widget" / "demo.html").read_text(encoding="utf-8")
    page = page.replace("{{RASA_URL}}", html.escape(rasa, quote=True))
    attribute, name = _identity_attributes(touchline_demo_login)
    page = page.replace("{{IDENTITY}}", attribute).replace("{{CUSTOMER}}", name)
    rasa_origin = f"{urlsplit(rasa).scheme}://{urlsplit(rasa).netloc}"
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; "
        f"connect-src 'self' {rasa_origin} {_websocket_origin(rasa)}; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}  # a signed-in page holds an identity token
    return HTMLResponse(page, headers=headers)


def _asset(name: str) -> FileResponse:
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type, headers=ASSET_HEADERS)


@functools.cache
def widget_script() -> str:
    """``widget.js`` with its placeholders filled in (:data:`SCRIPT_NAMES`); read once."""
    script = ASSETS["widget.js"][0].read_text(encoding="utf-8")
    for placeholder, value in SCRIPT_NAMES.items():
        script = script.replace(placeholder, value)
    return script


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> Response:
    """The embeddable widget script (:func:`widget_script`)."""
    return Response(widget_script(), media_type=ASSETS["widget.js"][1], headers=ASSET_HEADERS)


@router.get("/widget/{name}", include_in_schema=False)
def widget_style(name: str) -> FileResponse:
    """The widget's stylesheet (``widget.css``, loaded into its shadow root) or the demo
    page's (``demo.css``).

    Raises:
        HTTPException: 404 for any other name.
    """
    if f"widget/{name}" not in ASSETS:
        raise HTTPException(404, "not found")
    return _asset(f"widget/{name}")


@router.get("/vendor/socket.io.min.js", include_in_schema=False)
def socketio_client() -> FileResponse:
    """socket.io-client 4 browser build (vendored from npm, MIT licence alongside)."""
    return _asset("vendor/socket.io.min.js")

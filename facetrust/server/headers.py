"""Security headers on every response, and the API docs served from the package.

The web UI keeps the API key in localStorage, so its pages may run only their own
scripts (no inline code, nothing from elsewhere) and may not be framed. The docs
page (Swagger UI) needs their inline start-up script, so they get a policy that
allows it but still loads nothing from another origin: they work offline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: The web UI: its own scripts and styles; images from blobs (uploads, plots), the webcam stream.
UI_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
             "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
             "form-action 'self'; frame-ancestors 'none'")
#: Swagger UI: its inline start-up code, workers from blobs, nothing from elsewhere.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")
#: Everything else (JSON, report files): nothing to load, nothing to run.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_PREFIXES = ("/docs", "/static-docs/")
UI_PREFIXES = ("/ui", "/favicon.ico")
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer")]


def policy_for(path: str) -> str:
    if path.startswith(UI_PREFIXES) or path == "/":
        return UI_POLICY
    if path.startswith(DOCS_PREFIXES):
        return DOCS_POLICY
    return API_POLICY


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*_COMMON, (b"content-security-policy", policy_for(scope["path"]).encode())]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) from the assets packaged in ``fastapi-offline`` (no CDN). ReDoc is left
    out: in the browser test it still fetched its logo from a CDN."""
    import fastapi_offline

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static-docs", StaticFiles(directory=assets), name="static-docs")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + openapi_url, title=f"{title} - API",
                                   oauth2_redirect_url=root + redirect_url,
                                   swagger_js_url=f"{root}/static-docs/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/static-docs/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/static-docs/favicon.png")

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

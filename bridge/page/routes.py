"""`GET /`: the live page, and `GET /static/{name}`: its scripts, style sheet and icon.

The page is plain HTML, CSS and ES modules from `bridge/page/static` (no build step, nothing fetched
from elsewhere, so it works offline). It reads everything it shows from the bridge's own
streams and REST endpoints, so it holds no data itself and is served without the token even
with `auth.protect_reads` (the page passes its `?token=` on to those endpoints).

The files are read once at start-up and served from memory with an ETag and `no-cache`: a
browser revalidates each load (a 304 without a body), so after an upgrade it never mixes old
and new modules. The page comes with a strict Content-Security-Policy: scripts, styles and
images from the bridge only, connections to the bridge only (its http and ws origins), no
inline script or style, no framing; the page's own code needs nothing more.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from bridge.errors import NotFound

PAGE = "index.html"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
CACHE_CONTROL = "no-cache"
# A Host header safe to repeat in the policy (name or IP literal, optional port).
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
           "connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; "
           "frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


ASSETS_KEY = web.AppKey("page_assets", dict[str, Asset])
routes = web.RouteTableDef()


def load_assets() -> dict[str, Asset]:
    """Every servable file of `bridge/page/static` by name (the docs page is served by /docs)."""
    assets = {}
    for entry in resources.files("bridge.page").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if not entry.is_file() or suffix not in CONTENT_TYPES or entry.name == "docs.html":
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        assets[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return assets


def content_security_policy(host: str) -> str:
    """The page's policy. `'self'` covers same-origin ws:/wss: in CSP 3 browsers; the explicit
    ws://HOST and wss://HOST cover older ones (only for a well-formed Host header)."""
    connect = "'self'"
    if _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return _POLICY.format(connect=connect)


def _serve(request: web.Request, asset: Asset, headers: dict[str, str]) -> web.Response:
    headers = {"ETag": asset.etag, "Cache-Control": CACHE_CONTROL,
               "X-Content-Type-Options": "nosniff", **headers}
    given = request.headers.get("If-None-Match", "")
    if given.strip() == "*" or asset.etag in (tag.strip() for tag in given.split(",")):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={"Content-Type": asset.content_type, **headers})


@routes.get("/")
async def page(request: web.Request) -> web.Response:
    return _serve(request, request.app[ASSETS_KEY][PAGE], {
        "Content-Security-Policy": content_security_policy(request.host),
        "Referrer-Policy": "no-referrer",  # the URL may hold ?token=
        "X-Frame-Options": "DENY",
    })


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    asset = request.app[ASSETS_KEY].get(name)
    if asset is None or name == PAGE:
        raise NotFound(f"no static file {name!r}")
    return _serve(request, asset, {})


def setup(app: web.Application) -> None:
    app[ASSETS_KEY] = load_assets()
    app.add_routes(routes)

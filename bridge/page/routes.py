"""`GET /`: the live page, and `GET /static/{name}`: its scripts, style sheet and icon.

The page is plain HTML, CSS and ES modules from `bridge/page/static` (no build step, nothing
fetched from elsewhere, so it works offline). It reads everything it shows from the bridge's own
streams and REST endpoints, so it holds no data itself and is served without the token even
with `auth.protect_reads` (the page passes its `?token=` on to those endpoints).

The files are read once at start-up and served from memory with an ETag and `no-cache`: a
browser revalidates each load (a 304 without a body), so after an upgrade it never mixes old
and new modules. Each is also gzipped once at start-up and sent so to clients that accept it
(with its own ETag and `Vary: Accept-Encoding`), which keeps the page's first load, uPlot
included, well under its 150 KB budget. The page comes with a strict Content-Security-Policy:
scripts, styles and images from the bridge only, connections to the bridge only (its http and
ws origins), no inline script or style, no framing; the page's own code and uPlot (which sets
styles through the CSSOM only) need nothing more.

With `page.bridges` (other replicas), the page names them in a `<meta name="promwire-bridges">`
(written into the page once at start-up, so its ETag still names one body) and the policy lets
it connect to their origins too: when its bridge goes away it rotates to the next one.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from bridge.errors import NotFound
from bridge.keys import CONFIG_KEY

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
    gzipped: bytes | None = None  # when it is smaller: the page's first load stays small

    def variant(self, accept_encoding: str) -> tuple[bytes, str, dict[str, str]]:
        """(body, ETag, headers) for a client sending `accept_encoding`."""
        if self.gzipped is None:
            return self.body, self.etag, {}
        vary = {"Vary": "Accept-Encoding"}
        if _accepts_gzip(accept_encoding):
            return self.gzipped, self.etag[:-1] + '-gz"', {**vary, "Content-Encoding": "gzip"}
        return self.body, self.etag, vary


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header lists gzip (or *) with a quality above 0."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        params = params.strip()
        quality = params[2:].strip() if params.startswith("q=") else "1"
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


def _asset(body: bytes, content_type: str) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    # mtime=0: the same bytes on every start, so the gzip ETag means one body.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(body, content_type, etag, gzipped if len(gzipped) < len(body) * 0.9 else None)


ASSETS_KEY = web.AppKey("page_assets", dict[str, Asset])
SOURCES_KEY = web.AppKey("page_bridge_sources", str)
routes = web.RouteTableDef()


def load_assets() -> dict[str, Asset]:
    """Every servable file of `bridge/page/static` by its path there, e.g.
    `vendor/uplot/uPlot.min.css` (the docs page is served by /docs). Only names read here are
    served: a request's path is looked up, never joined to a directory, so `..` cannot reach
    anything else."""
    assets: dict[str, Asset] = {}
    pending = [("", resources.files("bridge.page").joinpath("static"))]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix not in CONTENT_TYPES or entry.name == "docs.html":
                continue
            assets[prefix + entry.name] = _asset(entry.read_bytes(), CONTENT_TYPES[suffix])
    return assets


def with_bridges(page: Asset, bridges: Sequence[str]) -> Asset:
    """The page naming the other replicas it may rotate to (config `page.bridges`)."""
    if not bridges:
        return page
    meta = ('<meta name="promwire-bridges" content="'
            + html.escape(" ".join(bridges), quote=True) + '">\n')
    text = page.body.decode().replace("<title>", meta + "<title>", 1)
    return _asset(text.encode(), page.content_type)


def bridge_sources(bridges: Sequence[str]) -> str:
    """The connect-src entries for the other replicas: each origin, over http(s) and ws(s)."""
    sources: list[str] = []
    for url in bridges:
        parts = urlsplit(url)
        socket = "wss" if parts.scheme == "https" else "ws"
        for source in (f"{parts.scheme}://{parts.netloc}", f"{socket}://{parts.netloc}"):
            if source not in sources:
                sources.append(source)
    return "".join(" " + source for source in sources)


def content_security_policy(host: str, extra: str = "") -> str:
    """The page's policy. `'self'` covers same-origin ws:/wss: in CSP 3 browsers; the explicit
    ws://HOST and wss://HOST cover older ones (only for a well-formed Host header). `extra`
    is `bridge_sources()` of the configured replicas."""
    connect = "'self'"
    if _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return _POLICY.format(connect=connect + extra)


def _serve(request: web.Request, asset: Asset, headers: dict[str, str]) -> web.Response:
    body, etag, coding = asset.variant(request.headers.get("Accept-Encoding", ""))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL,
               "X-Content-Type-Options": "nosniff", **coding, **headers}
    given = request.headers.get("If-None-Match", "")
    if given.strip() == "*" or etag in (tag.strip() for tag in given.split(",")):
        headers.pop("Content-Encoding", None)
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={"Content-Type": asset.content_type, **headers})


@routes.get("/")
async def page(request: web.Request) -> web.Response:
    return _serve(request, request.app[ASSETS_KEY][PAGE], {
        "Content-Security-Policy": content_security_policy(request.host,
                                                           request.app[SOURCES_KEY]),
        "Referrer-Policy": "no-referrer",  # the URL may hold ?token=
        "X-Frame-Options": "DENY",
    })


@routes.get("/static/{name:.+}")
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    asset = request.app[ASSETS_KEY].get(name)
    if asset is None or name == PAGE:
        raise NotFound(f"no static file {name!r}")
    return _serve(request, asset, {})


def setup(app: web.Application) -> None:
    bridges = app[CONFIG_KEY].page.bridges
    assets = load_assets()
    assets[PAGE] = with_bridges(assets[PAGE], bridges)
    app[ASSETS_KEY] = assets
    app[SOURCES_KEY] = bridge_sources(bridges)
    app.add_routes(routes)

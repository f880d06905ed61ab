"""GET / and /static/{name}: the live page's files, their headers, and what the page may not do.

What the page does in a browser is tested in real Chromium (the other tests/bridge/page modules);
here: content types, caching, the Content-Security-Policy, and that nothing in the files needs
more than that policy allows (no inline script or style, no event-handler attributes, no
external URL, no innerHTML).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from bridge.app import create_app
from bridge.config import AuthConfig, BridgeConfig, PageConfig
from bridge.page import routes as page

STATIC = resources.files("bridge.page").joinpath("static")
SCRIPTS = sorted(p.name for p in STATIC.iterdir() if p.name.endswith(".js"))


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(BridgeConfig(data_dir=str(tmp_path))))


async def test_page_is_html_with_a_strict_policy(client):
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1)
                  for part in resp.headers["Content-Security-Policy"].split(";"))
    host = f"{client.server.host}:{client.server.port}"
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == f"'self' ws://{host} wss://{host}"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert 'src="static/page.js"' in await resp.text()


async def test_the_page_names_its_replicas_and_may_connect_to_them(aiohttp_client, tmp_path):
    """`page.bridges`: listed in a meta element, and their origins (http and ws) added to
    connect-src; nothing else in the policy changes."""
    config = BridgeConfig(data_dir=str(tmp_path), page=PageConfig(
        bridges=("http://10.0.0.2:8000", "https://b.example/prefix/")))
    client = await aiohttp_client(create_app(config))
    resp = await client.get("/")
    body = await resp.text()
    assert '<meta name="promwire-bridges" content="http://10.0.0.2:8000 ' \
           'https://b.example/prefix/">' in body
    policy = dict(part.strip().split(" ", 1)
                  for part in resp.headers["Content-Security-Policy"].split(";"))
    host = f"{client.server.host}:{client.server.port}"
    assert policy["connect-src"] == (f"'self' ws://{host} wss://{host} http://10.0.0.2:8000 "
                                     "ws://10.0.0.2:8000 https://b.example wss://b.example")
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    etag = resp.headers["ETag"]
    again = await client.get("/", headers={"If-None-Match": etag})
    assert again.status == 304  # one body per start-up, so its ETag holds


async def test_without_replicas_the_page_names_none(client):
    assert "promwire-bridges" not in await (await client.get("/")).text()


def test_a_strange_host_header_stays_out_of_the_policy():
    assert page.content_security_policy("evil; script-src *").count("script-src") == 1
    assert "evil" not in page.content_security_policy("evil; script-src *")
    assert "ws://[::1]:8000" in page.content_security_policy("[::1]:8000")


@pytest.mark.parametrize(("name", "content_type"), [
    ("page.js", "text/javascript; charset=utf-8"),
    ("transport.js", "text/javascript; charset=utf-8"),
    ("page.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml")])
async def test_static_files_have_their_content_type(client, name, content_type):
    resp = await client.get(f"/static/{name}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == content_type
    assert await resp.read() == STATIC.joinpath(name).read_bytes()
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_etag_revalidation_answers_304(client):
    for path in ("/", "/static/page.js"):
        first = await client.get(path)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "no-cache"
        again = await client.get(path, headers={"If-None-Match": f'"other", {etag}'})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag
        changed = await client.get(path, headers={"If-None-Match": '"other"'})
        assert changed.status == 200


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/index.html", "/static/docs.html",
                                  "/static/..%2Fpage.py", "/static/%2e%2e%2fconfig.py"])
async def test_unknown_static_files_are_a_json_404(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


async def test_page_and_files_are_open_with_protected_reads(aiohttp_client, tmp_path):
    config = BridgeConfig(data_dir=str(tmp_path), auth=AuthConfig(token="t", protect_reads=True))
    client = await aiohttp_client(create_app(config))
    assert (await client.get("/")).status == 200
    assert (await client.get("/static/page.js")).status == 200
    assert (await client.get("/api/metrics")).status == 401  # the data still needs the token


async def test_docs_page_is_still_served(client):
    resp = await client.get("/docs")
    assert resp.status == 200 and "openapi.json" in await resp.text()


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [f"{name} attribute on <{tag}>" for name in names
                          if name == "style" or name.startswith("on")]


def test_the_page_needs_nothing_the_policy_forbids():
    markup = _Markup()
    markup.feed(STATIC.joinpath("index.html").read_text())
    assert markup.problems == []


@pytest.mark.parametrize("name", [*SCRIPTS, "index.html", "page.css"])
def test_no_external_urls_and_no_markup_from_data(name):
    text = STATIC.joinpath(name).read_text()
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), "an external URL"
    if name.endswith(".css"):
        assert "@import" not in text and "url(" not in text
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in code, f"{name} uses {sink}"


def _vendor_script():
    """scripts/vendor_uplot.py, which pins uPlot's version and checksums."""
    path = Path(__file__).resolve().parents[3] / "scripts" / "vendor_uplot.py"
    spec = importlib.util.spec_from_file_location("vendor_uplot", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vendored_uplot_matches_its_pinned_checksums():
    vendor = _vendor_script()
    folder = STATIC.joinpath("vendor", "uplot")
    assert set(vendor.SHA256) == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    for name, digest in vendor.SHA256.items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest, name
    assert vendor.VERSION.count(".") == 2
    assert "MIT" in folder.joinpath("LICENSE").read_text()


async def test_vendored_files_are_served_from_their_folder(client):
    resp = await client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert await resp.read() == STATIC.joinpath("vendor", "uplot", "uPlot.iife.min.js").read_bytes()
    css = await client.get("/static/vendor/uplot/uPlot.min.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    for path in ("/static/vendor/uplot/LICENSE", "/static/vendor/uplot/../page.js",
                 "/static/vendor/uplot/%2e%2e/page.js", "/static/vendor/nope.js"):
        assert (await client.get(path)).status == 404, path


async def test_files_are_gzipped_for_clients_that_accept_it(client):
    plain = await client.get("/static/page.js", headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    raw = await client.get("/static/page.js", headers={"Accept-Encoding": "br, gzip;q=0.8"},
                           auto_decompress=False)
    assert raw.headers["Content-Encoding"] == "gzip" and raw.headers["Vary"] == "Accept-Encoding"
    packed = await raw.read()
    assert gzip.decompress(packed) == body and len(packed) < len(body) / 2
    # Each encoding has its own ETag, and revalidates against it.
    assert raw.headers["ETag"] != plain.headers["ETag"]
    again = await client.get("/static/page.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": raw.headers["ETag"]})
    assert again.status == 304 and "Content-Encoding" not in again.headers
    refused = await client.get("/static/page.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and await refused.read() == body
    page_gz = await client.get("/", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert page_gz.headers["Content-Encoding"] == "gzip"
    assert "Content-Security-Policy" in page_gz.headers


def test_page_sizes_leave_room_in_the_budget():
    """The files of a first load, gzipped as served: well under the 150 KB budget, so that
    the data of the first view (catalog, hosts, history) fits beside them."""
    assets = page.load_assets()
    names = ["index.html", "page.css", "favicon.svg", "vendor/uplot/uPlot.min.css",
             "vendor/uplot/uPlot.iife.min.js", *SCRIPTS]
    total = sum(len(assets[name].gzipped or assets[name].body) for name in names)
    assert total < 75_000, total

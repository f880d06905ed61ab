#!/usr/bin/env python3
"""Refetch the live page's vendored uPlot from the npm registry, at the pinned version.

The page draws its charts with uPlot (MIT, https://github.com/leeoniya/uPlot), served from
bridge/page/static/vendor/uplot/ like the page's own files: no CDN, no build step. This script
runs `npm pack uplot@VERSION` in a temporary directory (npm checks the tarball against the
registry's integrity hash), takes the three files the page needs, checks each against the
SHA-256 pinned here, and only then writes them. tests/bridge/page/test_routes.py checks the vendored
files against the same pins, so a hand-edited or half-updated copy fails `make test`.

To move to another version: change VERSION, run this with --print-sums, review the diff of
the library, then pin the printed sums in SHA256.

    python3 scripts/vendor_uplot.py [--print-sums]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.6.32"
# Tarball member -> vendored file name, with the vendored file's SHA-256.
FILES = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "LICENSE",
}
SHA256 = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "LICENSE": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}
TARGET = (Path(__file__).resolve().parent.parent / "bridge" / "page" / "static" / "vendor"
          / "uplot")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(version: str) -> dict[str, bytes]:
    """The vendored files' contents from the registry's tarball of `uplot@version`."""
    with tempfile.TemporaryDirectory(prefix="uplot-") as tmp:
        subprocess.run(["npm", "pack", f"uplot@{version}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("uplot-*.tgz")
        with tarfile.open(tarball) as archive:
            found = {}
            for member, name in FILES.items():
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise SystemExit(f"{tarball.name} has no file {member}")
                found[name] = extracted.read()
            return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print-sums", action="store_true",
                        help="print the fetched files' SHA-256 instead of checking and writing")
    args = parser.parse_args()
    files = fetch(VERSION)
    if args.print_sums:
        for name, data in files.items():
            print(f'    "{name}": "{sha256(data)}",')
        return 0
    wrong = [name for name, data in files.items() if sha256(data) != SHA256[name]]
    if wrong:
        print(f"uplot@{VERSION}: checksum mismatch for {', '.join(wrong)}; nothing written",
              file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (TARGET / name).write_bytes(data)
    print(f"uplot@{VERSION} written to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

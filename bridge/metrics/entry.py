"""A catalog entry, the one piece of the metrics package the configuration schema holds.

Its rules live here, with the routes they protect: a name is a path segment of
`/api/metrics/{name}`, so it must be an identifier and must not be a sibling route's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.protocol import CURRENT_PATH

# `/api/metrics/current` would hide a catalog metric named "current".
RESERVED = CURRENT_PATH.rsplit("/", 1)[1]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _name_problem(name: str) -> str | None:
    if _IDENTIFIER.fullmatch(name) and name != RESERVED:
        return None
    return f"{name!r} must be an identifier other than {RESERVED!r}"


@dataclass(frozen=True)
class CatalogEntry:
    """A named metric: a PromQL expression evaluated per instance, with a title and a unit."""

    name: str = field(metadata={"check": _name_problem})
    query: str
    title: str = ""
    unit: str = ""
    description: str = ""

    def problem(self) -> str | None:
        """What the configuration loader reports for an entry that cannot work."""
        if not self.name or not self.query:
            return "a catalog entry needs a name and a query"
        return None

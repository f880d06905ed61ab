"""Helpers of bench/alerts_ingest.py (a package, so that `make bench`, which runs every
bench/*.py, does not run them as benches): raw WebSocket subscribers that resume, the bridge
and PostgreSQL processes, and the replica and HA scenarios."""

import sys
from pathlib import Path

# The repository's packages (bridge, tests) importable from the benches, run from anywhere.
ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

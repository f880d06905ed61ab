"""Helpers of bench/alerts_ingest.py (a package, so that `make bench`, which runs every
bench/*.py, does not run them as benches): raw WebSocket subscribers that resume, the bridge
and PostgreSQL processes, and the replica and HA scenarios."""

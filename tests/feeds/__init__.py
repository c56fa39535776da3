"""Feeds: parsing, discovery and OPML, with no I/O (except the loopback server that proves nothing is fetched)."""

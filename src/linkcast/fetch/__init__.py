"""Fetching pages: one shared async HTTP client with limits, redirects checked hop by hop, and politeness."""

from linkcast.fetch.client import Fetcher, Page

__all__ = ["Fetcher", "Page"]

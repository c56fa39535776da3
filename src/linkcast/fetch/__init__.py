"""Fetching pages: one shared async HTTP client with limits, redirects checked hop by hop, and politeness."""

from linkcast.fetch.client import Fetcher, Page, RedirectHook, Resource

__all__ = ["Fetcher", "Page", "RedirectHook", "Resource"]

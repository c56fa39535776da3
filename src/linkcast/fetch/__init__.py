"""Fetching pages: one shared async HTTP client with limits, redirects checked hop by hop, and politeness."""

from linkcast.fetch.client import PAGE_ACCEPT, Fetcher, Page, RedirectHook, Resource

__all__ = ["PAGE_ACCEPT", "Fetcher", "Page", "RedirectHook", "Resource"]

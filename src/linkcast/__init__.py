"""linkcast: scrape pages on request and push the links a browser would see to every WebSocket client."""

__version__ = "0.1.0"

__all__ = ["__version__"]

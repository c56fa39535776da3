"""The pure core: no sockets, no files, no event loop."""

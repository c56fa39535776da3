"""Test support: real servers on loopback (the service, a local site, Redis) and waits that always time out."""

"""Declarative client-auth scenarios (no I/O). Importing the package registers them all."""
from scenarios import chains, clientauth, encoding, posthandshake, proxies, serverlater, serverrole, verify  # noqa: F401

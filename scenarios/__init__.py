"""Declarative client-auth scenarios (no I/O). Importing the package registers them all."""
from scenarios import (chains, choice, clientauth, encoding, ocsp, posthandshake, proxies, revocation, serverlater,  # noqa: F401
                       serverrole, verify)

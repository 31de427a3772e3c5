"""Declarative client-auth scenarios (no I/O). Importing the package registers them all."""
from scenarios import clientauth, encoding  # noqa: F401

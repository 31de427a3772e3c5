"""Declarative client-auth scenarios (issue 3 onwards); no I/O here."""

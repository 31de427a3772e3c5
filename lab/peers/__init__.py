"""Real TLS stacks as context managers (issue 3 adds the server and client peers)."""

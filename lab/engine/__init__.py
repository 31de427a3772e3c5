"""The sans-IO TLS engine: record streams, handshake state and message generation. Never
touches a socket (``lab.transport`` and the runner do)."""

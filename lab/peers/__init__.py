"""Real TLS stacks as context managers: server peers (`servers`, `compiled`, `nss`), client programs
(`clients`), managed processes (`process`) and the stack registry (`registry`)."""

"""certlab runtime: crypto, capture, dissection and (later) the engine, peers and CLI."""
__version__ = "0.1.0"

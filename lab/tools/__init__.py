"""The user's tools, each built on ``lab.play``, ``lab.dissect`` and ``lab.capture``: diagnose, probe,
replay, sniff, demo, the interactive shell, the reference captures and explain."""

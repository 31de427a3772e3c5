"""The scenario language, with no I/O: steps and expectations (``dsl``), the lazy message
generators (``generators``), the client- and server-role step sequences (``flows``,
``serverflows``) and what a scenario can draw on (``Setup``). Scenarios import only this
package, ``lab.pki`` and ``layers``; ``lab.play`` plays what they return."""
from lab.script.dsl import (REGISTRY, Expect, ExpectAlert, ExpectAppRejected, ExpectClose, ExpectSuccess, Negotiate,
                            Outcome, ReadUntil, Reconnect, Scenario, Send, SendAlert, SendAppData, SendCCS,
                            SendRecords, Step, Trigger, scenario)
from lab.script.setup import Setup

__all__ = ["REGISTRY", "Expect", "ExpectAlert", "ExpectAppRejected", "ExpectClose", "ExpectSuccess", "Negotiate",
           "Outcome", "ReadUntil", "Reconnect", "Scenario", "Send", "SendAlert", "SendAppData", "SendCCS",
           "SendRecords", "Setup", "Step", "Trigger", "scenario"]

"""certlab's TLS/SSL wire layers: scapy packets for every record, handshake message and
extension that matters for client authentication. Session-free, deterministic, forgeable and
byte-exact; importing this package binds nothing to TCP (see ``layers.bindings``)."""
from layers.alert import Alert, ApplicationData, ChangeCipherSpec, Heartbeat  # noqa: F401
from layers.certificate import *  # noqa: F401,F403
from layers.extensions import *  # noqa: F401,F403
from layers.finished import *  # noqa: F401,F403
from layers.handshake import Handshake, Hint, body_class, parse_handshake  # noqa: F401
from layers.hello import ClientHello, HelloRetryRequest, ServerHello  # noqa: F401
from layers.keyexchange import *  # noqa: F401,F403
from layers.record import (SSLv2ClientHello, SSLv2Record, TLSCiphertext, TLSInnerPlaintext,  # noqa: F401
                           TLSPlaintext, guess_record_class)
from layers.registry import *  # noqa: F401,F403
# So that ``from layers import *`` is a working session in a plain Python or scapy shell.
from scapy.compat import raw  # noqa: F401,E402
from scapy.packet import Raw, ls  # noqa: F401,E402
from scapy.utils import hexdump  # noqa: F401,E402

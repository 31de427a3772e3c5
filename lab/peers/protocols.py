"""Mail and MQTT servers that ask for client certificates behind a protocol of their own: the
Mosquitto MQTT broker (TLS first, then MQTT's CONNECT and CONNACK), Dovecot's IMAP and Postfix's
SMTP behind STARTTLS. A protocol peer names its upgrade (``starttls``), the protocol whose check
judges the login (``protocol``) and its user; ``lab.play.target.for_peer`` makes it a Target: the same
upgrade and the same application check as ``run --to HOST:PORT --starttls imap``, so success means
the server accepted the login, not only that TLS finished, and a refusal after TLS (IMAP's NO,
SMTP's 421) is an application-level rejection. The database servers are in ``lab.peers.databases``."""
from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass
from typing import ClassVar

from lab.children import adopt, scratch_folder
from lab.peers.process import PeerUnavailable
from lab.peers.servers import TLS12_13, ServerPeer

USER = "lab-client"   # the lab client certificate's CN: the user a certificate login is

MOSQUITTO_CONF = """user root
per_listener_settings true
listener {port} 127.0.0.1
certfile server.crt
keyfile server.key
tls_version tlsv{version}
log_dest stderr
log_type error
log_type warning
log_type notice
{verify}
"""


@dataclass
class MosquittoServer(ServerPeer):
    """Mosquitto 2.0, an MQTT broker: ``require_certificate true`` with ``use_identity_as_username``
    (the certificate's CN is the user), and ``crlfile``; without require_certificate it asks for
    no certificate at all, so it has no optional mode."""
    name: str = "mosquitto"
    protocol: ClassVar[str | None] = "mqtt"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in ("none", "required", "required-crl")

    def _start(self) -> "MosquittoServer":
        exe, folder = self._prepare("mosquitto")
        verify = "" if self.mode == "none" else (
            "cafile ca.crt\nrequire_certificate true\nuse_identity_as_username true"
            + ("\ncrlfile crl.pem" if self.mode == "required-crl" else ""))
        with open(os.path.join(folder, "mosquitto.conf"), "w") as fh:
            fh.write(MOSQUITTO_CONF.format(port=self.port, version=self.version, verify=verify))
        self._launch([exe, "-c", "mosquitto.conf"], cwd=folder)
        return self




def dovecot_conf(top: str, cert: str, key: str, verify: str, listeners: dict[str, int]) -> str:
    """A Dovecot configuration in folder ``top``: ``listeners`` maps imap/pop3 to a STARTTLS
    port (the implicit-TLS ports closed), ``verify`` the client-certificate lines, and a
    password-less static passdb, so that the certificate alone decides a login."""
    services = "".join(f"service {proto}-login {{\n  inet_listener {proto} {{\n    port = {port}\n  }}\n"
                       f"  inet_listener {proto}s {{\n    port = 0\n  }}\n}}\n" for proto, port in listeners.items())
    return (f"protocols = {' '.join(listeners)}\nlisten = 127.0.0.1\nbase_dir = {top}/run\nstate_dir = {top}/state\n"
            f"log_path = {top}/dovecot.log\nssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n{verify}"
            "passdb {\n  driver = static\n  args = nopassword=y\n}\n"
            f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={top}/home\n}}\n{services}")


@dataclass
class DovecotServer(ServerPeer):
    """Dovecot 2.3 IMAP behind STARTTLS: ``ssl_verify_client_cert`` asks for a certificate and
    ``auth_ssl_require_client_cert`` refuses the login without a valid one: TLS itself goes on,
    so the outcome is the LOGIN's answer (a password-less static passdb: the certificate decides)."""
    name: str = "dovecot"
    starttls: ClassVar[str | None] = "imap"
    protocol: ClassVar[str | None] = "imap-login"
    login: ClassVar[str] = USER

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in ("none", "optional", "required", "required-crl")

    def _start(self) -> "DovecotServer":
        exe, folder = self._prepare("dovecot")
        # dovecot's login processes run as other users: its folders must be reachable by them
        self.scratch = scratch_folder("dovecot")
        os.chmod(self.scratch, 0o755)
        if self.mode == "required-crl":   # Dovecot reads CRLs from ssl_ca, beside the CA
            with open(os.path.join(folder, "ca.crt"), "rb") as ca, open(os.path.join(folder, "crl.pem"), "rb") as crl:
                with open(os.path.join(folder, "ca-crl.pem"), "wb") as out:
                    out.write(ca.read() + crl.read())
        verify = "" if self.mode == "none" else (
            f"ssl_ca = <{'ca-crl.pem' if self.mode == 'required-crl' else 'ca.crt'}\nssl_verify_client_cert = yes\n"
            + ("auth_ssl_require_client_cert = yes\n" if self.mode != "optional" else "")
            + f"ssl_require_crl = {'yes' if self.mode == 'required-crl' else 'no'}\n")
        with open(os.path.join(folder, "dovecot.conf"), "w") as fh:
            fh.write(dovecot_conf(self.scratch, "server.crt", "server.key", f"ssl_min_protocol = TLSv{self.version}\n"
                                  + verify, {"imap": self.port}))
        self._launch([exe, "-F", "-c", os.path.join(folder, "dovecot.conf")], cwd=folder)
        return self


POSTFIX_MASTER = """127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass
class PostfixServer(ServerPeer):
    """Postfix's smtpd behind SMTP STARTTLS (``postfix start-fg``): ``smtpd_tls_ask_ccert``
    (optional) and, with mandatory TLS, ``smtpd_tls_req_ccert`` (required), which refuses an
    untrusted or missing certificate after the handshake."""
    name: str = "postfix"
    starttls: ClassVar[str | None] = "smtp"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in ("none", "optional", "required")

    def _start(self) -> "PostfixServer":
        exe, folder = self._prepare("postfix")
        if os.geteuid() != 0:
            raise PeerUnavailable("Postfix's master starts as root only: run certlab as root for the postfix stack")
        self.scratch = scratch_folder("postfix")   # its daemons, as user postfix, reach the queue here
        if any(c in self.scratch for c in "$\n"):
            raise PeerUnavailable(f"Postfix expands '$' in main.cf: set TMPDIR to a folder without it ({self.scratch!r})")
        os.chmod(self.scratch, 0o755)
        conf = os.path.join(self.scratch, "conf")
        for sub in ("conf", "data", "queue"):
            os.makedirs(os.path.join(self.scratch, sub))
        shutil.chown(os.path.join(self.scratch, "data"), "postfix")
        for name in ("server.crt", "server.key", "ca.crt"):
            shutil.copy(os.path.join(folder, name), os.path.join(conf, name))
        level = {"none": "may", "optional": "may", "required": "encrypt"}[self.mode]
        ask = "no" if self.mode == "none" else "yes"
        with open(os.path.join(conf, "main.cf"), "w") as fh:
            fh.write(f"compatibility_level = 3.6\nqueue_directory = {self.scratch}/queue\n"
                     f"data_directory = {self.scratch}/data\nmail_owner = postfix\nmyhostname = mail.internal\n"
                     "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmaillog_file = /dev/stdout\n"
                     f"smtputf8_enable = no\nsmtpd_tls_cert_file = {conf}/server.crt\n"
                     f"smtpd_tls_key_file = {conf}/server.key\nsmtpd_tls_CAfile = {conf}/ca.crt\n"
                     f"smtpd_tls_security_level = {level}\nsmtpd_tls_ask_ccert = {ask}\n"
                     f"smtpd_tls_req_ccert = {'yes' if self.mode == 'required' else 'no'}\n"
                     f"smtpd_tls_protocols = >=TLSv{self.version}\nsmtpd_tls_loglevel = 1\n")
        with open(os.path.join(conf, "master.cf"), "w") as fh:
            fh.write(POSTFIX_MASTER.format(port=self.port))
        self._launch([exe, "-c", conf, "start-fg"], ready_timeout=30.0)
        # Postfix's master starts a session of its own: it is stopped by its pid, and adopted so
        # that a certlab killed with -9 has it killed by the next run's sweep
        self.master = self._master_pid()
        if self.master:
            adopt(self.scratch, self.master)
        return self

    def _master_pid(self) -> int | None:
        try:
            with open(os.path.join(self.scratch, "queue", "pid", "master.pid")) as fh:
                return int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def __exit__(self, *exc: object) -> None:
        """The master first (it left certlab's process tree), then the peer and its folder."""
        master = getattr(self, "master", None) or (self._master_pid() if self.scratch else None)
        if master:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(master, sig)
                except OSError:
                    break
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline and os.path.exists(f"/proc/{master}"):
                    time.sleep(0.05)
        super().__exit__(*exc)


PROTOCOL_SERVERS = {"mosquitto": MosquittoServer, "dovecot": DovecotServer,
                    "postfix": PostfixServer}

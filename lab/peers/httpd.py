"""Web servers and proxies where client certificates are configured in practice: Apache httpd
(server-wide and per-<Location>, which asks by TLS 1.2 renegotiation or TLS 1.3 post-handshake
auth), lighttpd on each TLS library Debian builds it with, and HAProxy. Each is configured as its
documentation shows, in a folder of its own where the PKI files are linked under fixed names
(``ServerPeer._config_folder``): no path certlab did not choose reaches a configuration parser."""
from __future__ import annotations

import os
from dataclasses import dataclass

from lab.peers.process import PeerUnavailable
from lab.peers.servers import BASIC_MODES, NAMES_DIFFER, OCSP_MODES, PROXY_MODES, TLS12_13, ServerPeer
from lab.pki import write_private

APACHE_MODULES = "/usr/lib/apache2/modules"
# the per-<Location> request of mode renegotiation/pha-required, on a server that speaks HTTP/2,
# where neither renegotiation nor post-handshake auth is allowed (RFC 7540 9.2.1, RFC 8740)
H2_LOCATION = "h2-location"


APACHE_CONF = """ServerName localhost
PidFile httpd.pid
DefaultRuntimeDir .
Mutex file:.
ErrorLog error.log
LogLevel info ssl:info
User www-data
Group www-data
{modules}
Listen 127.0.0.1:{port} https
<VirtualHost 127.0.0.1:{port}>
  SSLEngine on
  SSLCertificateFile server.crt
  SSLCertificateKeyFile server.key
  SSLCACertificateFile ca.crt
  SSLProtocol -all +TLSv{version}
  SSLCipherSuite ALL
  SSLVerifyDepth 4
  SSLVerifyClient {server_verify}
  {crl}
{content}
  Header always set X-SSL-Client-Verify "%{{SSL_CLIENT_VERIFY}}s"
</VirtualHost>
"""
APACHE_ANSWER = """  <Location "/">
    SetHandler server-status
    {location_verify}
  </Location>"""
# As Apache's documentation forwards the client's identity (RequestHeader set replaces a header
# of the same name that the client sent).
APACHE_PROXY = """  ProxyPass "/" "http://127.0.0.1:{port}/"
  RequestHeader {how} X-SSL-Client-Verify "%{{SSL_CLIENT_VERIFY}}s"
  RequestHeader {how} X-SSL-Client-DN "%{{SSL_CLIENT_S_DN}}s"
"""


@dataclass
class ApacheServer(ServerPeer):
    """Apache httpd 2.4 with mod_ssl (``apache2 -X``: one process in the foreground). Modes
    ``renegotiation`` (TLS 1.2, require), ``pha`` (TLS 1.3, optional) and ``pha-required`` are
    the per-<Location> case: the handshake asks nothing, and the request for ``/`` makes Apache
    ask, by renegotiation or by a post-handshake CertificateRequest (which it can send only to a
    client that offered post_handshake_auth: to others it answers 403)."""
    name: str = "apache"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and (
            mode in (*BASIC_MODES, *PROXY_MODES, *OCSP_MODES, NAMES_DIFFER)
            or (mode == "renegotiation" and self.version == "1.2")
            or (mode in ("pha", "pha-required") and self.version == "1.3") or mode == H2_LOCATION)

    def _start(self) -> "ApacheServer":
        exe, folder = self._prepare("apache2")
        location_verify = {"renegotiation": "require", "pha": "optional", "pha-required": "require",
                           H2_LOCATION: "require"}.get(self.mode)
        server_verify = {"optional": "optional", "required": "require", "required-crl": "require", "proxy": "optional",
                         "proxy-append": "optional",
                         "proxy-no-ca": "optional_no_ca", "required-ocsp": "require",
                         "required-ocsp-unreachable": "require", "required-ocsp-unknown": "require",
                         NAMES_DIFFER: "require"}.get(self.mode, "none")
        modules = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so" for m in
                            ("mpm_event", "authz_core", "status", "headers", "socache_shmcb", "ssl", "proxy",
                             "proxy_http", "http2"))
        content = APACHE_PROXY.format(port=self._backend_port(),
                                      how="add" if self.mode == "proxy-append" else "set") \
            if self.mode in PROXY_MODES else \
            APACHE_ANSWER.format(location_verify=f"SSLVerifyClient {location_verify}" if location_verify else "")
        conf = APACHE_CONF.format(modules=modules, port=self.port, version=self.version,
                                  server_verify=server_verify, content=content,
                                  crl="SSLCARevocationFile crl.pem\n  SSLCARevocationCheck leaf"
                                  if self.mode == "required-crl" else
                                  "SSLOCSPEnable leaf\n  SSLOCSPOverrideResponder on\n  SSLOCSPResponderTimeout 3\n"
                                  f"  SSLOCSPDefaultResponder {self._ocsp_url()}" if self.mode in OCSP_MODES else
                                  "SSLCADNRequestFile other-ca.crt" if self.mode == NAMES_DIFFER else "")
        if self.mode == H2_LOCATION:   # HTTP/2 offered first (ALPN), the per-<Location> request the same
            conf = conf.replace("  SSLEngine on\n", "  SSLEngine on\n  Protocols h2 http/1.1\n")
        with open(os.path.join(folder, "httpd.conf"), "w") as fh:
            fh.write(conf)
        self._launch([exe, "-X", "-d", folder, "-f", "httpd.conf"])
        return self


LIGHTTPD_CONF = """server.document-root = "/nonexistent"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "error.log"
server.modules += ("{module}", "mod_status")
status.status-url = "/"
ssl.engine = "enable"
ssl.pemfile = "server.crt"
ssl.privkey = "server.key"
ssl.ca-file = "ca.crt"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv{version}", "MaxProtocol" => "TLSv{version}")
ssl.verifyclient.activate = "{activate}"
ssl.verifyclient.enforce = "{enforce}"
ssl.verifyclient.depth = 4
{crl}
"""


@dataclass
class LighttpdServer(ServerPeer):
    """lighttpd 1.4 (``lighttpd -D``, answering with mod_status, so no file is served) on one TLS
    library: its mod_openssl, mod_gnutls, mod_wolfssl or mod_mbedtls (the lab's wolfSSL and
    mbedTLS servers)."""
    name: str = "lighttpd"
    module: str = "mod_openssl"
    versions = TLS12_13

    def supports(self, mode: str) -> bool:
        return self.version in self.versions and mode in BASIC_MODES

    def _start(self) -> "LighttpdServer":
        if not os.path.exists(f"/usr/lib/lighttpd/{self.module}.so"):
            package = "lighttpd-" + self.module.replace("_", "-")
            raise PeerUnavailable(f"lighttpd's {self.module} is not installed; run scripts/setup "
                                  f"(apt-get install {package})")
        exe, folder = self._prepare("lighttpd")
        conf = LIGHTTPD_CONF.format(port=self.port, module=self.module, version=self.version,
                                    activate="disable" if self.mode == "none" else "enable",
                                    enforce="enable" if self.mode in ("required", "required-crl") else "disable",
                                    crl='ssl.ca-crl-file = "crl.pem"' if self.mode == "required-crl" else "")
        with open(os.path.join(folder, "lighttpd.conf"), "w") as fh:
            fh.write(conf)
        self._launch([exe, "-D", "-f", "lighttpd.conf"], cwd=folder)
        return self


@dataclass
class LighttpdOpenSSL(LighttpdServer):
    name: str = "lighttpd-openssl"
    module: str = "mod_openssl"


@dataclass
class LighttpdGnuTLS(LighttpdServer):
    name: str = "lighttpd-gnutls"
    module: str = "mod_gnutls"


@dataclass
class LighttpdWolfSSL(LighttpdServer):
    name: str = "lighttpd-wolfssl"
    module: str = "mod_wolfssl"


@dataclass
class LighttpdMbedTLS(LighttpdServer):
    """mbedTLS 2.28 (Debian 12) has no TLS 1.3."""
    name: str = "lighttpd-mbedtls"
    module: str = "mod_mbedtls"
    versions = ("1.2",)


HAPROXY_CONF = """global
  log stderr format raw local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend lab
  bind 127.0.0.1:{port} ssl crt server.pem {cas} verify {verify} ssl-min-ver TLSv{version} ssl-max-ver TLSv{version} {crl}
  {content}
"""
HAPROXY_ANSWER = ('http-request return status 200 content-type text/plain lf-string '
                  '"verify=%[ssl_c_verify] used=%[ssl_c_used] dn=%[ssl_c_s_dn]\\n"')
# As HAProxy's documentation forwards the client's identity (set-header replaces the client's).
HAPROXY_PROXY = """http-request {how}-header X-SSL-Client-Verify %[ssl_c_verify]
  http-request {how}-header X-SSL-Client-Used %[ssl_c_used]
  http-request {how}-header X-SSL-Client-DN %{{+Q}}[ssl_c_s_dn]
  default_backend app
backend app
  server app 127.0.0.1:{port}"""


@dataclass
class HAProxyServer(ServerPeer):
    """HAProxy 2.6 (``haproxy -db``) terminating TLS and answering itself with what it would
    forward about the client certificate (``ssl_c_verify``, ``ssl_c_s_dn``)."""
    name: str = "haproxy"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in (*BASIC_MODES, *PROXY_MODES,
                                                      NAMES_DIFFER)

    def _start(self) -> "HAProxyServer":
        exe, folder = self._prepare("haproxy")
        srv = self.pki.identity(self.alg, "server")
        with open(srv.cert, "rb") as crt, open(srv.key, "rb") as key:
            pem = crt.read() + key.read()   # HAProxy takes the certificate and its key in one file
        write_private(os.path.join(folder, "server.pem"), pem)
        verify = {"none": "none", "optional": "optional", "required": "required", "required-crl": "required",
                  "proxy": "optional", "proxy-append": "optional",
                  "proxy-no-ca": "optional ca-ignore-err all crt-ignore-err all",
                  NAMES_DIFFER: "required"}
        cas = "ca-file other-ca.crt ca-verify-file ca.crt" if self.mode == NAMES_DIFFER else "ca-file ca.crt"
        content = HAPROXY_PROXY.format(port=self._backend_port(), how="add" if self.mode == "proxy-append" else "set") \
            if self.mode in PROXY_MODES else HAPROXY_ANSWER
        conf = HAPROXY_CONF.format(port=self.port, verify=verify[self.mode], version=self.version, content=content,
                                   cas=cas, crl="crl-file crl.pem" if self.mode == "required-crl" else "")
        with open(os.path.join(folder, "haproxy.cfg"), "w") as fh:
            fh.write(conf)
        self._launch([exe, "-db", "-f", "haproxy.cfg"], cwd=folder)
        return self


HTTPD_SERVERS = {c.name: c for c in (ApacheServer, HAProxyServer, LighttpdOpenSSL, LighttpdGnuTLS, LighttpdWolfSSL,
                                     LighttpdMbedTLS)}

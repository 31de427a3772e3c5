"""What a TLS-terminating proxy tells the application (catalogue group N). The proxy (nginx,
Apache, HAProxy) runs in mode ``proxy`` (verify optional) or ``proxy-no-ca`` (nginx's
optional_no_ca and its kin) in front of an application that echoes the headers it receives
(``lab.peers.backend``); the proxies are configured as their documentation forwards the client's
identity (X-SSL-Client-Verify, X-SSL-Client-DN). The expectation is what the application must see."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.dsl import Outcome, scenario
from lab.script.setup import Setup

BOTH = {"1.2", "1.3"}
DOCS = "proxy documentation (nginx ssl_verify_client, Apache mod_ssl, HAProxy ssl_c_*)"
# Verified by the proxy: nginx and Apache say SUCCESS, HAProxy's ssl_c_verify says 0 (no error)
VERIFIED = "SUCCESS|0"
SPOOFED = (b"GET / HTTP/1.0\r\nHost: localhost\r\nX-SSL-Client-Verify: SUCCESS\r\n"
           b"X-SSL-Client-DN: CN=admin,O=TLS Lab\r\n\r\n")
# The application must not be told the forged values
NOT_FOOLED = Outcome("success", forwarded=(("X-SSL-Client-Verify", "(?!SUCCESS$).*"),
                                           ("X-SSL-Client-DN", "(?!CN=admin).*")))


def _no_certificate(s: Setup):
    """The handshake with an empty Certificate."""
    return flows.client_auth(s.version, certificate=gen.certificate([]), omit_cv=True)


@scenario("proxy-identity-verified", rfc=DOCS, row="N01", versions=BOTH, server_mode="proxy", level="SHOULD",
          summary="a valid client certificate through a TLS-terminating proxy: the application is told it "
                  "was verified, and the client's DN",
          expect=Outcome("success", forwarded=(("X-SSL-Client-Verify", VERIFIED),
                                               ("X-SSL-Client-DN", ".*lab-client.*"))))
def proxy_identity_verified(s: Setup):
    return flows.client_auth(s.version)


@scenario("proxy-identity-no-certificate", rfc=DOCS, row="N01", versions=BOTH, server_mode="proxy",
          level="SHOULD", summary="no client certificate (an empty Certificate) through the proxy: the "
                                  "application is told of no identity, and not that a certificate verified",
          expect=Outcome("success", forwarded=(("X-SSL-Client-Verify", f"(?!(?:{VERIFIED})$).*"),
                                               ("X-SSL-Client-DN", ""))))
def proxy_identity_none(s: Setup):
    return _no_certificate(s)


@scenario("proxy-optional-no-ca-self-signed", rfc=DOCS + "; RFC 5246 7.4.6 (the server MAY go on)", row="N01",
          versions=BOTH, server_mode="proxy-no-ca", level="SHOULD",
          summary="a self-signed client certificate under optional_no_ca: TLS goes on, and the application "
                  "is told the certificate did not verify (its DN alone proves nothing)",
          expect=Outcome("success", forwarded=(("X-SSL-Client-Verify", f"(?!(?:{VERIFIED})$).+"),)))
def proxy_no_ca_self_signed(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate(s.chain("client-self-signed")),
                             certificate_verify=gen.certificate_verify(key=s.key("client-self-signed")))


@scenario("proxy-spoofed-identity-headers", rfc=DOCS, row="N02", versions=BOTH, server_mode="proxy",
          summary="no client certificate, and a request carrying forged X-SSL-Client-Verify: SUCCESS and "
                  "X-SSL-Client-DN: CN=admin: the proxy must overwrite them (passing them on lets anyone in)",
          expect=NOT_FOOLED, request=SPOOFED)
def proxy_spoofed_headers(s: Setup):
    return _no_certificate(s)


@scenario("proxy-appended-identity-headers", rfc=DOCS, row="N02", versions=BOTH, server_mode="proxy-append",
          summary="the forged headers of proxy-spoofed-identity-headers through a proxy configured to add its "
                  "identity headers (Apache RequestHeader add, HAProxy http-request add-header) instead of "
                  "setting them: the application also gets the client's forged values, a configuration that "
                  "lets anyone in",
          expect=NOT_FOOLED, request=SPOOFED)
def proxy_appended_headers(s: Setup):
    return _no_certificate(s)

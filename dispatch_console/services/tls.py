"""TLS to the district: the OS certificate store, or IT's CA bundle, or a pinned certificate.

Police workstations trust what IT puts in the OS store (an agency's inspecting proxy
CA, say), so by default the console verifies with ``truststore`` rather than a bundled
CA list. IT can instead name a CA bundle, and can pin the district certificate's SHA-256
fingerprint. A pin is checked inside the TLS handshake of every connection, before a
single byte of a request (which would carry the session token) is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from pathlib import Path

import truststore

from .settings import Settings


class PinMismatchError(ssl.SSLCertVerificationError):
    """The server's certificate is not the one IT pinned."""


def certificate_fingerprint(der: bytes) -> str:
    """Lower-case hex SHA-256 of a DER certificate: what ``certificate_pin`` holds."""
    return hashlib.sha256(der).hexdigest()


def _check_pin(ssl_object: ssl.SSLObject | ssl.SSLSocket, pin: str) -> None:
    der = ssl_object.getpeercert(binary_form=True)
    seen = certificate_fingerprint(der) if der else "(no certificate)"
    if not hmac.compare_digest(seen, pin):
        raise PinMismatchError(
            f"the server's certificate (SHA-256 {seen}) is not the pinned one ({pin})"
        )


def _pinned_classes(pin: str) -> tuple[type[ssl.SSLObject], type[ssl.SSLSocket]]:
    class PinnedObject(ssl.SSLObject):
        """Used by asyncio/anyio (memory BIOs): httpx's async client."""

        def do_handshake(self) -> None:
            super().do_handshake()
            _check_pin(self, pin)

    class PinnedSocket(ssl.SSLSocket):
        """Used by blocking sockets: httpx's sync client, urllib."""

        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            _check_pin(self, pin)

    return PinnedObject, PinnedSocket


def district_ssl_context(ca_bundle: Path | None = None, pin: str | None = None) -> ssl.SSLContext:
    """The context every connection to the district uses, per the settings.

    * neither: the OS store (truststore), host name checked;
    * ``ca_bundle``: only those CAs, host name checked;
    * ``pin``: the certificate must have that fingerprint, which identifies the server
      by itself (a district's self-signed certificate works); with a CA bundle as well,
      the chain is verified too.
    """
    context: ssl.SSLContext
    if ca_bundle is not None:
        context = ssl.create_default_context(cafile=str(ca_bundle))
    elif pin is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if pin is not None:
        obj_class, sock_class = _pinned_classes(pin)
        context.sslobject_class = obj_class
        context.sslsocket_class = sock_class
    return context


def settings_ssl_context(settings: Settings) -> ssl.SSLContext:
    """``district_ssl_context`` for these settings."""
    return district_ssl_context(settings.ca_bundle, settings.certificate_pin)

"""Certificates for `mafa up --tls`: the one module of ours that imports `cryptography`.

mafa makes a local certificate authority and, signed by it, a server certificate for the names
clients use to reach the balancer (localhost, 127.0.0.1 and the --bind address). The CA's private
key is never written anywhere: it signs that one certificate and is dropped, so a CA a user adds
to a browser can vouch for nothing else. The CA is also name-constrained to the same names (a
second guard, enforced by clients, should its key ever have been kept). A new pair is made when
the names change or the certificate nears its end; users then trust the new CA file.

With `--tls-cert/--tls-key` the user's own pair is checked (the key matches, it is in date) and
served instead; clients then trust that certificate file (self-signed, or with its chain in it).
Storage is state.py's: this module only makes and checks bytes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mafa_cli.errors import UsageError

VALID_DAYS = 90  # the server certificate and its CA: short-lived, renewed by a later `mafa up`
RENEW_BEFORE = timedelta(days=7)  # a certificate with less left than this is made afresh
CLOCK_SKEW = timedelta(minutes=5)  # valid from a little before now: clocks differ


@dataclass(frozen=True)
class Issued:
    """A server certificate and what clients need to trust it, all PEM."""

    ca_pem: bytes  # what clients verify against (curl --cacert, REQUESTS_CA_BUNDLE)
    cert_pem: bytes
    key_pem: bytes

    @property
    def site_pem(self) -> bytes:
        """What HAProxy's `crt` takes: the certificate, then its key."""
        return self.cert_pem + self.key_pem


def server_names(bind: str) -> tuple[str, ...]:
    """The names clients reach the balancer by. An unspecified bind (0.0.0.0, ::) is no name
    anyone connects to, so it adds nothing; clients then use localhost or 127.0.0.1."""
    names = ["localhost", "127.0.0.1"]
    if not ipaddress.ip_address(bind).is_unspecified and bind not in names:
        names.append(bind)
    return tuple(names)


def _general_name(name: str, as_network: bool = False) -> x509.GeneralName:
    """An IP address (a one-address network, for a name constraint), else a DNS name."""
    try:
        address = ipaddress.ip_network(name) if as_network else ipaddress.ip_address(name)
    except ValueError:
        return x509.DNSName(name)
    return x509.IPAddress(address)


def _pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def issue(project: str, bind: str, now: datetime | None = None) -> Issued:
    """A fresh CA and a server certificate it signed, for the balancer of `project`."""
    now = now or datetime.now(UTC)
    names = server_names(bind)
    start, end = now - CLOCK_SKEW, now + timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mafa"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mafa local CA for {project}"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[_general_name(n, as_network=True) for n in names],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem(key),
    )


def still_good(cert_pem: bytes, bind: str, now: datetime | None = None) -> bool:
    """Whether a certificate mafa made earlier can be served again: it names every name clients
    use now and has more than RENEW_BEFORE left."""
    now = now or datetime.now(UTC)
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = {str(n) for n in alt.get_values_for_type(x509.DNSName)}
    named |= {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)}
    return set(server_names(bind)) <= named and cert.not_valid_after_utc - now > RENEW_BEFORE


def users_pair(cert_pem: bytes, key_pem: bytes, now: datetime | None = None) -> Issued:
    """The user's own certificate and key (--tls-cert/--tls-key), checked before anything starts:
    a pair HAProxy cannot serve would only show as a balancer that never gets healthy."""
    now = now or datetime.now(UTC)
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise UsageError(
            "--tls-cert holds no PEM certificate", hint="give the server certificate in PEM"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UsageError(
            "--tls-key holds no unencrypted PEM private key",
            hint="HAProxy starts unattended: decrypt it first (openssl pkey -in KEY -out NEW)",
        ) from None
    public = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if certs[0].public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        raise UsageError(
            "--tls-key is not the key of --tls-cert",
            hint="give the key the certificate was made for",
        )
    if certs[0].not_valid_after_utc <= now:
        raise UsageError(
            f"--tls-cert expired on {certs[0].not_valid_after_utc:%Y-%m-%d}",
            hint="renew it, or leave both flags out and mafa makes one",
        )
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return Issued(ca_pem=chain, cert_pem=chain, key_pem=_pem(key))

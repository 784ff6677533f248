"""A locally generated CA (trustme) and a server certificate for the emulator."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost", "::1", "login.salesforce.com", "test.salesforce.com")


def server_context(cert_dir: Path) -> tuple[ssl.SSLContext, Path]:
    """An SSL context for the server and the path of the CA bundle clients should trust."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="sfsync emulator CA")
    cert = ca.issue_cert(*HOSTS)
    ca_path = cert_dir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx, ca_path

"""Which hosts may receive our credentials, checked before any request is sent.

The client secret, authorization codes and refresh tokens go to the login URL; access tokens
go to the `instance_url` of a token response. Both must be Salesforce's own `https://` hosts,
or an origin the configuration names exactly (`scheme://host:port`: the emulator, a proxy).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import attrs

from sfsync.domain.errors import PermanentFailure

PRODUCTION = "https://login.salesforce.com"
SANDBOX = "https://test.salesforce.com"
# My Domain login hosts: <name>.my.salesforce.com, or <name>.<partition>.my.salesforce.com
# (a sandbox's <name> is MyDomain--SandboxName; partitions from Salesforce's My Domain formats)
PARTITIONS = frozenset({"sandbox", "scratch", "develop", "demo", "free", "patch", "trailblaze"})
INSTANCE_DOMAINS = ("salesforce.com", "force.com")  # instance_url: na1.salesforce.com, My Domain
ALLOWED_HOSTS = {
    "login URL": "login.salesforce.com, test.salesforce.com, <name>.my.salesforce.com,"
    " <name>.sandbox.my.salesforce.com",
    "instance URL": "a subdomain of salesforce.com or force.com",
}
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class HostRefused(PermanentFailure):
    """A URL that would send credentials somewhere sfsync does not trust."""

    code = "salesforce_host_refused"


@attrs.frozen
class SalesforceHosts:
    """Salesforce's hosts plus `extra` origins (normalized `scheme://host:port`)."""

    extra: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, origins: Iterable[str]) -> SalesforceHosts:
        return cls(frozenset(parse_origin(origin) for origin in origins))

    def login_url(self, url: str) -> str:
        """`url` as `https://host` (or the allowed origin), else HostRefused saying why."""
        return self._checked(url, "login URL", is_login_host, "login_url_refused")

    def instance_url(self, url: str) -> str:
        """The same rule for a token response's `instance_url`, on Salesforce's domains."""
        return self._checked(url, "instance URL", is_instance_host, "instance_url_refused")

    def jwt_audience(self, login_url: str) -> str:
        """Salesforce wants the generic login host as `aud`; an allowed origin is itself."""
        origin = self.login_url(login_url)
        host = urlsplit(origin).hostname or ""
        if origin in self.extra and not is_login_host(host):
            return origin
        if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
            return SANDBOX
        return PRODUCTION

    def _checked(
        self, url: str, what: str, salesforce_host: Callable[[str], bool], code: str
    ) -> str:
        shown = _shown(url)
        subject = f"{what} {shown}" if shown else what
        if "://" not in url:
            bare = url.strip().strip("/")
            hint = f": type https://{bare}" if shown and bare and "/" not in bare else ""
            raise HostRefused(f"{subject} has no scheme{hint}", code=code)
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise HostRefused(f"{what} must not carry a user name or password", code=code)
        if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
            raise HostRefused(f"{subject} must not have a query or fragment", code=code)
        if parts.path not in ("", "/"):
            raise HostRefused(f"{subject} must have no path (just https://host)", code=code)
        try:
            origin = parse_origin(url)
        except ValueError as err:
            raise HostRefused(f"{subject} {err}", code=code) from None
        if origin in self.extra:
            return origin
        scheme, host, port = _split(origin)
        if scheme != "https":
            raise HostRefused(
                f"{subject} is not https (http only for an origin listed in"
                " SFSYNC_SF_ALLOWED_ORIGINS)",
                code=code,
            )
        if not salesforce_host(host):
            raise HostRefused(
                f"{subject} is not a Salesforce host ({ALLOWED_HOSTS[what]};"
                " any other only if listed in SFSYNC_SF_ALLOWED_ORIGINS)",
                code=code,
            )
        if port != 443:
            raise HostRefused(f"{subject}: Salesforce hosts use port 443", code=code)
        return f"https://{host}"


def is_login_host(host: str) -> bool:
    if host in ("login.salesforce.com", "test.salesforce.com"):
        return True
    labels = host.split(".")
    if labels[-3:] != ["my", "salesforce", "com"] or not _labels(labels):
        return False
    return len(labels) == 4 or (len(labels) == 5 and labels[1] in PARTITIONS)


def is_instance_host(host: str) -> bool:
    """A subdomain of salesforce.com or force.com (na1.salesforce.com, My Domain hosts)."""
    labels = host.split(".")
    return _labels(labels) and any(host.endswith("." + domain) for domain in INSTANCE_DOMAINS)


def parse_origin(text: str) -> str:
    """`scheme://host[:port]` (http or https, no path) as `scheme://host:port`; ValueError."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError("must start with https:// (or http://)")
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be scheme://host[:port] with no path")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        return f"{parts.scheme}://[{host}]:{port}"
    if not _labels(host.split(".")):
        raise ValueError("has an invalid host name")
    return f"{parts.scheme}://{host}:{port}"


def _split(origin: str) -> tuple[str, str, int]:
    parts = urlsplit(origin)
    return parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]


def _labels(labels: list[str]) -> bool:
    return all(_LABEL.fullmatch(label) for label in labels)


def _shown(url: str) -> str:
    """The URL for an error message: quoted, short, and never with credentials in it."""
    if "@" in url:
        return ""
    return repr(url[:100] + ("..." if len(url) > 100 else ""))

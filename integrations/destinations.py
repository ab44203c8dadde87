"""Where a webhook may go: a public address, checked at registration and at every delivery.

A registered URL could otherwise make Arbiter's own network position reach what only it
can reach (cloud metadata at 169.254.169.254, Redis and PostgreSQL on loopback, private
networks): server-side request forgery. So

- the URL's host is resolved once per delivery and every address it resolves to must be
  public (not loopback, private, link-local, unique-local, multicast, reserved,
  unspecified, shared CGNAT space, nor an IPv6 form embedding such an IPv4 address).
  Numeric spellings (``2130706433``, ``0x7f000001``, ``127.1``) and names such as
  ``localhost`` resolve to what they are and are refused for it;
- the connection goes to the address that was checked, never through a second lookup
  (a name that answered public at the check and private a moment later, DNS rebinding,
  cannot slip in). The Host header and TLS (SNI and the certificate's name) still use
  the URL's host name;
- nothing follows redirects: http.client never does.

``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` lists networks allowed anyway (empty by default; the
tests allow 127.0.0.1/32 where they run a local receiver).
"""

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.models import DeliveryFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


class Refused(Exception):
    """The URL cannot be delivered to; ``failure`` says why, as a category."""

    def __init__(self, failure: DeliveryFailure):
        super().__init__(failure.value)
        self.failure = failure


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # the name from the URL: the Host header, SNI and certificate check
    port: int
    target: str  # path and query
    address: IPAddress  # the checked address the connection goes to


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    if ip.version == 4 and ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or getattr(ip, "is_site_local", False))


def allowed_networks(setting) -> list:
    """``WEBHOOK_ALLOW_PRIVATE_NETWORKS``: a list, or a comma-separated string."""
    if isinstance(setting, str):
        setting = setting.split(",")
    return [ipaddress.ip_network(item.strip(), strict=False)
            for item in setting or () if item.strip()]


def deliverable(ip: IPAddress, allow: Iterable) -> bool:
    return is_public(ip) or any(ip.version == net.version and ip in net for net in allow)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to, in the resolver's order (the one true
    external boundary here: tests stand in for it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


def check(url: str, allow: Iterable) -> Destination:
    """Resolve the URL's host once and check every address; raise :class:`Refused`."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(DeliveryFailure.REFUSED_ADDRESS) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(DeliveryFailure.REFUSED_ADDRESS)
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError, ValueError):
        raise Refused(DeliveryFailure.DNS_ERROR) from None
    allow = list(allow)
    if not addresses or not all(deliverable(ip, allow) for ip in addresses):
        raise Refused(DeliveryFailure.REFUSED_ADDRESS)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, parts.hostname, port, target, addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float):
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = str(destination.address)

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float):
        super().__init__(destination.host, destination.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = str(destination.address)

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # SNI and the certificate check on the URL's name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(destination: Destination, body: bytes, headers: dict, timeout: float) -> int:
    """POST to the checked address; the answer's status (3xx included: not followed).
    Raise :class:`Refused` with the category of a failure to get an answer."""
    pinned = _PinnedHTTPS if destination.scheme == "https" else _PinnedHTTP
    connection = pinned(destination, timeout)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        return connection.getresponse().status
    except (ssl.SSLError, ssl.CertificateError):
        raise Refused(DeliveryFailure.TLS_ERROR) from None
    except ConnectionRefusedError:
        raise Refused(DeliveryFailure.CONNECTION_REFUSED) from None
    except TimeoutError:
        raise Refused(DeliveryFailure.TIMEOUT) from None
    except (OSError, http.client.HTTPException):
        raise Refused(DeliveryFailure.CONNECTION_ERROR) from None
    finally:
        connection.close()


def status_failure(status: int) -> DeliveryFailure | None:
    """The category of a non-2xx answer (None for 2xx)."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return DeliveryFailure.REDIRECT
    if 400 <= status < 500:
        return DeliveryFailure.HTTP_4XX
    if status >= 500:
        return DeliveryFailure.HTTP_5XX
    return DeliveryFailure.CONNECTION_ERROR

"""The SSRF guard, with the DNS lookup passed in."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from lanjie.webhooks.targets import TargetRefused, is_public, vet


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> Iterable[str]:
        calls.append((host, port))
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]
    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


PUBLIC = resolver({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})


def test_a_public_https_url_is_accepted_after_one_lookup() -> None:
    resolve = resolver({"hooks.example.com": ["93.184.215.14"]})
    assert vet("https://hooks.example.com:8443/x?y=1", allow_private=False, resolve=resolve) == \
        "https://hooks.example.com:8443/x?y=1"
    assert resolve.calls == [("hooks.example.com", 8443)]


@pytest.mark.parametrize(("url", "message"), [
    ("http://hooks.example.com/x", "https only"),
    ("ftp://hooks.example.com/x", "must start with https://"),
    ("hooks.example.com/x", "must start with https://"),
    ("https:///x", "no host"),
    ("https://user:pw@hooks.example.com/x", "user name or password"),
    ("https://hooks.example.com/x#frag", "#fragment"),
    ("https://hooks.example.com:99999/x", "not a valid URL"),
    ("https://nowhere.example.com/x", "does not resolve"),
    ("https://" + "a" * 2000 + ".com/", "longer than 2000"),
])
def test_urls_that_are_not_https_to_a_resolvable_host_are_refused(url: str, message: str) -> None:
    with pytest.raises(TargetRefused, match=message):
        vet(url, allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
    "100.64.0.1", "::1", "fe80::1", "fd00::1", "ff02::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
])
def test_hosts_resolving_to_private_loopback_link_local_multicast_or_unspecified_are_refused(address: str) -> None:
    assert is_public(address) is False
    with pytest.raises(TargetRefused, match="private, loopback or reserved"):
        vet("https://inside.example.com/", allow_private=False, resolve=resolver({"inside.example.com": [address]}))


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    resolve = resolver({"mixed.example.com": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(TargetRefused, match=r"\(10\.0\.0\.5\)"):
        vet("https://mixed.example.com/", allow_private=False, resolve=resolve)


def test_ip_literals_are_checked_without_a_lookup() -> None:
    resolve = resolver({})
    assert vet("https://93.184.215.14/h", allow_private=False, resolve=resolve) == "https://93.184.215.14/h"
    with pytest.raises(TargetRefused, match="private"):
        vet("https://[::1]:8443/h", allow_private=False, resolve=resolve)
    assert resolve.calls == []


def test_allowing_private_targets_permits_http_and_loopback_without_a_lookup() -> None:
    resolve = resolver({})
    assert vet("http://127.0.0.1:8080/h", allow_private=True, resolve=resolve) == "http://127.0.0.1:8080/h"
    assert vet("http://localhost/h", allow_private=True, resolve=resolve) == "http://localhost/h"
    assert resolve.calls == []
    with pytest.raises(TargetRefused, match="must start with https://"):
        vet("file:///etc/passwd", allow_private=True, resolve=resolve)

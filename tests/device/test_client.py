# kiln.client's URL handling, inside the firmware (tests/test_client.py drives it against real
# servers): where a request goes, and where a redirect's Location leads.
from kiln import client


def test_url_gives_host_port_and_target():
    assert client._split_url("http://a.example/x?y=1#top") == (False, "a.example", 80, "/x?y=1")
    assert client._split_url("https://a.example") == (True, "a.example", 443, "/")
    assert client._split_url("http://10.0.0.2:8080?q") == (False, "10.0.0.2", 8080, "/?q")


def test_unusable_urls_raise_client_error():
    for url in ("ftp://a/", "a.example/x", "http://:80/", "http://a:x/", "http:///x"):
        try:
            client._split_url(url)
        except client.ClientError:
            continue
        raise AssertionError(url)


def test_location_is_resolved_against_the_answering_url():
    base = "http://a.example:8080/dir/page?x=1"
    cases = (
        ("https://b.example/new", "https://b.example/new"),
        ("//b.example/new", "http://b.example/new"),
        ("/top", "http://a.example:8080/top"),
        ("next", "http://a.example:8080/dir/next"),
        ("next?y=2", "http://a.example:8080/dir/next?y=2"),
        ("?y=2", "http://a.example:8080/dir/page?y=2"),
    )
    for location, want in cases:
        assert client._resolve(base, location) == want, (location, client._resolve(base, location))
    assert client._resolve("http://a.example", "next") == "http://a.example/next"
    assert client._resolve("http://a.example?q", "?r") == "http://a.example/?r"


def test_headers_are_looked_up_in_any_case():
    h = client.Headers()
    h._add("content-type", "text/plain")
    h._add("x-many", "1")
    h._add("x-many", "2")
    assert h["Content-Type"] == "text/plain" and "CONTENT-TYPE" in h and h.get("X-Many") == "1, 2"
    assert h.get("nope") is None and len(h) == 2 and sorted(h) == ["content-type", "x-many"]

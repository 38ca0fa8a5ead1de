"""The HTTP listener (`vltava.http.listener`): /health and /ready, bounded request bodies."""
import http.client

from conftest import free_port


def http_broker(broker_factory, **kwargs):
    port = free_port()
    overrides = dict(kwargs.pop("overrides", {}))
    overrides["vltava.http.listener"] = f"127.0.0.1:{port}"
    b = broker_factory(overrides=overrides, **kwargs)
    return b, port


def get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("content-type"), r.read()
    finally:
        c.close()


def test_health_and_ready_answer_once_the_broker_serves(broker_factory):
    _, port = http_broker(broker_factory)
    assert get(port, "/health") == (200, "text/plain; charset=utf-8", b"ok\n")
    assert get(port, "/ready") == (200, "text/plain; charset=utf-8", b"ready\n")
    status, _, body = get(port, "/no-such-page")
    assert status == 404 and b"/no-such-page" in body


def test_request_bodies_are_bounded(broker_factory):
    b, port = http_broker(broker_factory)
    status, _, _ = get(port, "/health", method="POST", body=b"x" * (2 << 20))
    assert status == 413
    # The listener and the broker carry on.
    assert get(port, "/health")[0] == 200
    assert b.running()

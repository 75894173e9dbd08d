"""Service URLs of two Kumo servers on one machine: every advertised URL must reach the server's own
service (the contract: `urls` = [127.0.0.1:SERVICEPORT, *.run.localhost:PORT, *.a.run.localhost:PORT])."""

import json

import pytest

from conftest import curl, sign_in, start_kumo, stop_kumo


@pytest.fixture(scope="module")
def two_servers():
    first = start_kumo(["--demo"])
    second = start_kumo(["--demo"])
    yield first, second
    stop_kumo(second)
    stop_kumo(first)


def test_gateway_urls_of_both_servers_reach_their_own_service(two_servers, tmp_path_factory):
    for server in two_servers:
        alice = sign_in(server, "alice@example.com", tmp_path_factory.mktemp("urls"), project="demo-project", region="us-central1")
        urls = json.loads(alice.json("run", "services", "describe", "hello")["metadata"]["annotations"]["run.googleapis.com/urls"])
        token = alice.out("auth", "print-identity-token")
        for url in urls[1:]:
            status, body = curl(url, token)
            assert status == 200 and "It's running!" in body, url


def test_the_uri_of_the_second_server_reaches_its_own_service_not_the_firsts(two_servers, tmp_path_factory):
    first, second = two_servers
    first_alice = sign_in(first, "alice@example.com", tmp_path_factory.mktemp("urls1"), project="demo-project", region="us-central1")
    first_uri = first_alice.json("run", "services", "describe", "hello")["status"]["url"]
    alice = sign_in(second, "alice@example.com", tmp_path_factory.mktemp("urls2"), project="demo-project", region="us-central1")
    uri = alice.json("run", "services", "describe", "hello")["status"]["url"]
    assert uri != first_uri, "each server's service gets a port of its own"
    status, body = curl(uri, alice.out("auth", "print-identity-token"))
    assert status == 200 and "It's running!" in body

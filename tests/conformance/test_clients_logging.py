"""google-cloud-logging (HTTP JSON transport: `_use_grpc=False`) against Kumo: entries.list with
Logging query language filters."""

import time

import pytest
from google.cloud import logging as cloud_logging

from conftest import curl, gateway_url, sign_in


@pytest.fixture(scope="module")
def logging_client(demo, tmp_path_factory):
    alice = sign_in(demo, "alice@example.com", tmp_path_factory.mktemp("clients-logging"), project="demo-project", region="us-central1")
    # Something to log: a refused and an allowed request to the private hello service.
    alice.run("run", "deploy", "logged", "--image", "us-docker.pkg.dev/cloudrun/container/hello")
    url = gateway_url(alice, "logged")
    assert curl(url)[0] == 403
    assert curl(url, alice.out("auth", "print-identity-token"))[0] == 200
    return cloud_logging.Client(
        project="demo-project",
        credentials=demo.admin_credentials(),
        _use_grpc=False,
        client_options={"api_endpoint": demo.base_url},
    )


def _eventually(list_entries, **kwargs):
    """Log entries are written asynchronously (as on Google): poll for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        entries = list(list_entries(**kwargs))
        if entries or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def test_request_logs_are_listed_with_a_filter(logging_client):
    entries = _eventually(
        logging_client.list_entries,
        filter_='resource.type="cloud_run_revision" AND resource.labels.service_name="logged" AND httpRequest.status=403',
        max_results=10,
    )
    assert entries, "the refused request is logged"
    for entry in entries:
        assert entry.resource.type == "cloud_run_revision"
        assert entry.http_request["status"] == 403
        assert entry.log_name == "projects/demo-project/logs/run.googleapis.com%2Frequests"


def test_audit_logs_and_ordering(logging_client):
    entries = _eventually(
        logging_client.list_entries,
        filter_='logName:"cloudaudit.googleapis.com" AND protoPayload.methodName:"CreateService"',
        order_by=cloud_logging.DESCENDING,
        max_results=5,
    )
    assert entries
    payload = entries[0].payload
    assert payload["serviceName"] == "run.googleapis.com"
    timestamps = [e.timestamp for e in entries]
    assert timestamps == sorted(timestamps, reverse=True)


def test_a_filter_matching_nothing_lists_nothing(logging_client):
    assert list(logging_client.list_entries(filter_='severity>=CRITICAL AND "no such text anywhere"')) == []

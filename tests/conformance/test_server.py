"""The server itself: health, restart on the same data dir, clean shutdown."""

import requests

from conftest import start_kumo, stop_kumo


def test_healthz_answers_ok(kumo):
    response = requests.get(f"{kumo.base_url}/healthz", timeout=5)
    assert response.status_code == 200


def test_unknown_api_path_is_a_google_shaped_404(kumo):
    response = requests.get(f"{kumo.base_url}/v2/nothing/here", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_restart_on_same_data_dir_keeps_the_bootstrap():
    first = start_kumo()
    credentials_before = first.admin_credentials_file.read_text()
    stop_kumo(first)
    assert first.process.returncode == 0, "Ctrl-C must shut kumo down cleanly"
    second = start_kumo(data_dir=first.data_dir)
    try:
        assert second.admin_credentials_file.read_text() == credentials_before
    finally:
        stop_kumo(second)

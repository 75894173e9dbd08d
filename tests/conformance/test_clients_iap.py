"""IAP's admin API with google-cloud-iap's `IdentityAwareProxyAdminServiceClient` (REST transport,
pointed at Kumo): policies on the project's `iap_web` and on `cloud_run-REGION` inherited by the
services below, and `IapSettings` read and updated with a field mask."""

import pytest
from google.api_core import exceptions
from google.cloud import iap_v1
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import field_mask_pb2

from conftest import cli_credentials, client_options, project_number, sign_in

ACCESSOR = "roles/iap.httpsResourceAccessor"
ACCESS = "iap.webServiceVersions.accessViaIAP"


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients-iap")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project", region="us-central1")
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project", region="us-central1")
    number = project_number(alice, "demo-project")

    def client(cli):
        return iap_v1.IdentityAwareProxyAdminServiceClient(
            transport="rest", client_options=client_options(demo), credentials=cli_credentials(cli)
        )

    return {"alice": client(alice), "carol": client(carol), "web": f"projects/{number}/iap_web"}


def _held(client, resource):
    request = iam_policy_pb2.TestIamPermissionsRequest(resource=resource, permissions=[ACCESS])
    return list(client.test_iam_permissions(request=request).permissions)


def test_policies_on_iap_web_and_cloud_run_levels_reach_the_services(world):
    alice, carol, web = world["alice"], world["carol"], world["web"]
    service = f"{web}/cloud_run-us-central1/services/hello"
    assert _held(carol, service) == []
    region = f"{web}/cloud_run-us-central1"
    policy = alice.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=region))
    policy.bindings.append(policy_pb2.Binding(role=ACCESSOR, members=["user:carol@example.com"]))
    alice.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=region, policy=policy))
    assert _held(carol, service) == [ACCESS]
    assert _held(carol, f"{web}/cloud_run-europe-west1/services/hello") == []
    # The accessor cannot read the level's policy: iap.webTypes.getIamPolicy.
    with pytest.raises(exceptions.Forbidden) as refused:
        carol.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=region))
    assert "iap.webTypes.getIamPolicy" in str(refused.value)
    # The project-wide level.
    policy = alice.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=web))
    assert list(policy.bindings) == []


def test_settings_update_with_a_field_mask(world):
    alice, web = world["alice"], world["web"]
    name = f"{web}/cloud_run-us-central1/services/hello"
    settings = iap_v1.IapSettings(
        name=name,
        access_settings=iap_v1.AccessSettings(
            allowed_domains_settings=iap_v1.AllowedDomainsSettings(enable=True, domains=["example.com"]),
            cors_settings=iap_v1.CorsSettings(allow_http_options=True),
        ),
    )
    updated = alice.update_iap_settings(
        request=iap_v1.UpdateIapSettingsRequest(
            iap_settings=settings,
            update_mask=field_mask_pb2.FieldMask(paths=["access_settings.allowed_domains_settings"]),
        )
    )
    assert updated.name == name
    assert list(updated.access_settings.allowed_domains_settings.domains) == ["example.com"]
    assert updated.access_settings.allowed_domains_settings.enable
    # Outside the mask: not stored.
    assert not updated.access_settings.cors_settings.allow_http_options
    read = alice.get_iap_settings(request=iap_v1.GetIapSettingsRequest(name=name))
    assert read == updated
    with pytest.raises(exceptions.Forbidden):
        world["carol"].get_iap_settings(request=iap_v1.GetIapSettingsRequest(name=name))

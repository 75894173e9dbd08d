"""google-cloud-artifact-registry (artifactregistry_v1, REST) against Kumo: repositories and their IAM."""

import pytest
from google.api_core import exceptions
from google.cloud import artifactregistry_v1

from conftest import client_options

PARENT = "projects/demo-project/locations/us-central1"


@pytest.fixture(scope="module")
def ar(demo):
    return artifactregistry_v1.ArtifactRegistryClient(transport="rest", client_options=client_options(demo), credentials=demo.admin_credentials())


def test_repository_lifecycle(ar):
    repository = artifactregistry_v1.Repository(format_=artifactregistry_v1.Repository.Format.DOCKER, description="conformance")
    created = ar.create_repository(parent=PARENT, repository_id="gapic-repo", repository=repository).result(timeout=30)
    assert created.name == f"{PARENT}/repositories/gapic-repo"
    assert created.format_ == artifactregistry_v1.Repository.Format.DOCKER
    got = ar.get_repository(name=created.name)
    assert got.description == "conformance"
    assert created.name in [r.name for r in ar.list_repositories(parent=PARENT)]
    with pytest.raises(exceptions.Conflict):
        ar.create_repository(parent=PARENT, repository_id="gapic-repo", repository=repository).result(timeout=30)

    policy = ar.get_iam_policy(request={"resource": created.name})
    policy.bindings.add(role="roles/artifactregistry.reader", members=["user:bob@example.com"])
    updated = ar.set_iam_policy(request={"resource": created.name, "policy": policy})
    assert any(b.role == "roles/artifactregistry.reader" for b in updated.bindings)

    ar.delete_repository(name=created.name).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        ar.get_repository(name=created.name)

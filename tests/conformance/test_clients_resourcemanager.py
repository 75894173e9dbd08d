"""google-cloud-resource-manager (resourcemanager_v3, REST) against Kumo: organizations, folders
(LRO), projects (LRO) and their IAM policies, with Google's exception types."""

import pytest
from google.api_core import exceptions
from google.cloud import resourcemanager_v3

from conftest import cli_credentials, client_options, sign_in


@pytest.fixture(scope="module")
def rm(demo, tmp_path_factory):
    opts = client_options(demo)
    creds = demo.admin_credentials()
    orgs = resourcemanager_v3.OrganizationsClient(transport="rest", client_options=opts, credentials=creds)
    organization = next(iter(orgs.search_organizations(query="domain:example.com")))
    policy = orgs.get_iam_policy(resource=organization.name)
    # Folder creation is its own role (neither owner nor organizationAdmin holds it).
    policy.bindings.add(role="roles/resourcemanager.folderCreator", members=["user:admin@example.com"])
    orgs.set_iam_policy(request={"resource": organization.name, "policy": policy})
    carol = sign_in(demo, "carol@example.com", tmp_path_factory.mktemp("clients-rm"))
    return {
        "org": organization,
        "orgs": orgs,
        "folders": resourcemanager_v3.FoldersClient(transport="rest", client_options=opts, credentials=creds),
        "projects": resourcemanager_v3.ProjectsClient(transport="rest", client_options=opts, credentials=creds),
        "carol_projects": resourcemanager_v3.ProjectsClient(transport="rest", client_options=opts, credentials=cli_credentials(carol)),
    }


def test_organization_is_found_by_domain(rm):
    org = rm["org"]
    assert org.display_name == "example.com"
    assert org.directory_customer_id.startswith("C0")
    assert rm["orgs"].get_organization(name=org.name).name == org.name


def test_folder_and_project_under_it(rm):
    folder = rm["folders"].create_folder(
        folder=resourcemanager_v3.Folder(parent=rm["org"].name, display_name="Engineering")
    ).result(timeout=30)
    assert folder.name.startswith("folders/") and folder.display_name == "Engineering"
    assert folder.state == resourcemanager_v3.Folder.State.ACTIVE
    assert folder.name in [f.name for f in rm["folders"].list_folders(parent=rm["org"].name)]

    project = rm["projects"].create_project(
        project=resourcemanager_v3.Project(project_id="gapic-project", parent=folder.name, display_name="GAPIC")
    ).result(timeout=30)
    assert project.project_id == "gapic-project"
    assert project.name.split("/")[1].isdigit(), "v3 names a project by its number"
    assert project.parent == folder.name
    got = rm["projects"].get_project(name="projects/gapic-project")
    assert got.name == project.name
    assert "gapic-project" in [p.project_id for p in rm["projects"].search_projects(query="id:gapic-project")]
    with pytest.raises(exceptions.Conflict):
        rm["projects"].create_project(project=resourcemanager_v3.Project(project_id="gapic-project", parent=folder.name))


def test_project_iam_policy_round_trip_and_stale_etag(rm):
    projects = rm["projects"]
    resource = "projects/demo-project"
    policy = projects.get_iam_policy(request={"resource": resource, "options": {"requested_policy_version": 3}})
    before = bytes(policy.etag)
    policy.bindings.add(role="roles/viewer", members=["user:carol@example.com"])
    policy.version = 3
    updated = projects.set_iam_policy(request={"resource": resource, "policy": policy, "update_mask": {"paths": ["bindings", "etag"]}})
    assert bytes(updated.etag) != before
    assert any(b.role == "roles/viewer" and "user:carol@example.com" in b.members for b in updated.bindings)
    with pytest.raises(exceptions.Conflict):
        projects.set_iam_policy(request={"resource": resource, "policy": policy})
    granted = rm["carol_projects"].test_iam_permissions(
        resource=resource, permissions=["resourcemanager.projects.get", "resourcemanager.projects.delete"]
    )
    assert list(granted.permissions) == ["resourcemanager.projects.get"]


def test_errors(rm):
    with pytest.raises(exceptions.Forbidden) as denied:
        rm["carol_projects"].get_project(name="projects/no-such-project-anywhere")
    assert "denied on resource" in denied.value.message
    with pytest.raises(exceptions.Forbidden):
        rm["carol_projects"].set_iam_policy(request={"resource": "projects/demo-project", "policy": {"bindings": []}})

//! Resource Manager, IAM admin, Org Policy and Service Usage end to end through the route table:
//! a permission matrix, project provisioning, policy concurrency, and the organization-policy
//! effects on IAM and keys.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly on broken set-up"
)]

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use kumo_api::testing::Harness;
use kumo_control::ResourceRef;
use serde_json::{Value, json};

const ALICE: &str = "user:alice@example.com";
const ADMIN: &str = "user:admin@example.com";
const BOB: &str = "user:bob@example.com";
/// Outside the organization's domain, so the domain-wide Project Creator grant does not reach them.
const OUTSIDER: &str = "user:olga@partner.example";

/// A harness whose organization administrator also holds the roles Google's setup checklist
/// gives them: project creator, folder admin and organization policy admin.
fn harness() -> Harness {
    let h = Harness::new();
    let org = ResourceRef::Organization(h.organization.id.clone());
    let grants: Vec<(&str, String)> = [
        "roles/resourcemanager.projectCreator",
        "roles/resourcemanager.folderAdmin",
        "roles/orgpolicy.policyAdmin",
    ]
    .into_iter()
    .map(|role| (role, ADMIN.to_owned()))
    .collect();
    h.control.grant_roles(&org, &grants).unwrap();
    h
}

fn compute_email(h: &Harness) -> String {
    format!("{}-compute@developer.gserviceaccount.com", h.project.number)
}

/// The smallest predefined role holding `permission`, as the engine's catalog orders them.
fn smallest_role(h: &Harness, permission: &str) -> String {
    let permission: kumo_names::Permission = permission.parse().unwrap();
    let engine = h.control.engine();
    let roles = engine.catalog().roles_granting(&permission);
    roles
        .first()
        .unwrap_or_else(|| panic!("no role grants {permission}"))
        .to_string()
}

fn has_binding(policy: &Value, role: &str, member: &str) -> bool {
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|binding| {
            binding["role"] == role
                && binding["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| m == member)
        })
}

#[derive(Clone, Copy)]
enum Scope {
    Project,
    Folder,
    Organization,
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    permission: &'static str,
    denied_on: String,
    scope: Scope,
}

/// What the matrix cases act on, created before each case by principals who may.
struct Fixtures {
    folder: String,
    deleted_folder: String,
    key: String,
    public_key_data: String,
    gone_id: String,
    gone_email: String,
}

fn custom_constraint(org: &str, id: &str) -> Value {
    json!({
        "name": format!("{org}/customConstraints/custom.{id}"),
        "resourceTypes": ["run.googleapis.com/Service"],
        "methodTypes": ["CREATE", "UPDATE"],
        "condition": "resource.spec.template.spec.containers.exists(c, c.image.startsWith('docker.io/'))",
        "actionType": "DENY",
        "displayName": "No Docker Hub",
    })
}

async fn fixtures(h: &Harness) -> Fixtures {
    let org = format!("organizations/{}", h.organization.id);
    let mut folders = Vec::new();
    for name in ["Fixture", "Deleted"] {
        let (status, op) = h
            .call(
                ADMIN,
                Method::POST,
                "/v3/folders",
                Some(json!({"displayName": name, "parent": org})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{op}");
        folders.push(op["response"]["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        h.call(ADMIN, Method::DELETE, &format!("/v3/{}", folders[1]), None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, op) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(json!({"projectId": "spare-project", "parent": org})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(
        h.call(ADMIN, Method::DELETE, "/v3/projects/spare-project", None)
            .await
            .0,
        StatusCode::OK
    );
    let sa = format!(
        "/v1/projects/demo-project/serviceAccounts/{}",
        compute_email(h)
    );
    let (status, key) = h
        .call(ALICE, Method::POST, &format!("{sa}/keys"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let (_, gone) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "gone-sa"})),
        )
        .await;
    let gone_email = gone["email"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call(
            ALICE,
            Method::DELETE,
            &format!("/v1/projects/demo-project/serviceAccounts/{gone_email}"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    for (role, delete) in [("fixture", false), ("deadrole", true)] {
        let body = json!({"roleId": role, "role": {"title": role, "includedPermissions": ["run.services.get"]}});
        assert_eq!(
            h.call(
                ALICE,
                Method::POST,
                "/v1/projects/demo-project/roles",
                Some(body)
            )
            .await
            .0,
            StatusCode::OK
        );
        if delete {
            assert_eq!(
                h.call(
                    ALICE,
                    Method::DELETE,
                    &format!("/v1/projects/demo-project/roles/{role}"),
                    None
                )
                .await
                .0,
                StatusCode::OK
            );
        }
    }
    let body = json!({"roleId": "orgfixture", "role": {"title": "Org fixture", "includedPermissions": ["run.services.get"]}});
    let (status, role) = h
        .call(ADMIN, Method::POST, &format!("/v1/{org}/roles"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    let policy = json!({"name": "projects/demo-project/policies/run.allowedIngress", "spec": {"rules": [{"allowAll": true}]}});
    let (status, created) = h
        .call(
            ADMIN,
            Method::POST,
            "/v2/projects/demo-project/policies",
            Some(policy),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, created) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v2/{org}/customConstraints"),
            Some(custom_constraint(&org, "fixture")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    Fixtures {
        folder: folders[0].clone(),
        deleted_folder: folders[1].clone(),
        key: key["name"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned(),
        public_key_data: key["publicKeyData"].as_str().unwrap().to_owned(),
        gone_id: gone["uniqueId"].as_str().unwrap().to_owned(),
        gone_email,
    }
}

fn cases(h: &Harness, fx: &Fixtures) -> Vec<Case> {
    use Scope::{Folder, Organization, Project};
    let org = format!("organizations/{}", h.organization.id);
    let sa = format!("/v1/projects/-/serviceAccounts/{}", compute_email(h));
    let sa_name = format!("projects/demo-project/serviceAccounts/{}", compute_email(h));
    let gone_name = format!("projects/demo-project/serviceAccounts/{}", fx.gone_email);
    let key = format!("{sa}/keys/{}", fx.key);
    let project = "projects/demo-project";
    let roles = "/v1/projects/demo-project/roles";
    let v2 = "/v2/projects/demo-project/policies";
    let folder = fx.folder.as_str();
    let ingress = "constraints/run.allowedIngress";
    let viewer = json!({"policy": {"bindings": [{"role": "roles/viewer", "members": [BOB]}]}});
    let c = |method: Method,
             path: String,
             body: Option<Value>,
             permission: &'static str,
             denied_on: &str,
             scope: Scope| Case {
        method,
        path,
        body,
        permission,
        denied_on: denied_on.to_owned(),
        scope,
    };
    let get = Method::GET;
    let post = Method::POST;
    let patch = Method::PATCH;
    let delete = Method::DELETE;
    let empty = || Some(json!({}));
    vec![
        // Resource Manager: projects
        c(
            get.clone(),
            "/v3/projects/demo-project".into(),
            None,
            "resourcemanager.projects.get",
            project,
            Project,
        ),
        c(
            patch.clone(),
            "/v3/projects/demo-project?updateMask=displayName".into(),
            Some(json!({"displayName": "Renamed"})),
            "resourcemanager.projects.update",
            project,
            Project,
        ),
        c(
            delete.clone(),
            "/v3/projects/demo-project".into(),
            None,
            "resourcemanager.projects.delete",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v3/projects/spare-project:undelete".into(),
            empty(),
            "resourcemanager.projects.undelete",
            "projects/spare-project",
            Organization,
        ),
        c(
            get.clone(),
            format!("/v3/projects?parent={org}"),
            None,
            "resourcemanager.projects.list",
            &org,
            Organization,
        ),
        c(
            post.clone(),
            "/v3/projects".into(),
            Some(json!({"projectId": "matrix-project", "parent": org})),
            "resourcemanager.projects.create",
            &org,
            Organization,
        ),
        c(
            post.clone(),
            "/v3/projects/demo-project:getIamPolicy".into(),
            empty(),
            "resourcemanager.projects.getIamPolicy",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:getIamPolicy".into(),
            empty(),
            "resourcemanager.projects.getIamPolicy",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v3/projects/demo-project:setIamPolicy".into(),
            Some(viewer.clone()),
            "resourcemanager.projects.setIamPolicy",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:setIamPolicy".into(),
            Some(viewer.clone()),
            "resourcemanager.projects.setIamPolicy",
            project,
            Project,
        ),
        // folders
        c(
            post.clone(),
            "/v3/folders".into(),
            Some(json!({"displayName": "Engineering", "parent": org})),
            "resourcemanager.folders.create",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            format!("/v3/folders?parent={org}"),
            None,
            "resourcemanager.folders.list",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            format!("/v3/{folder}"),
            None,
            "resourcemanager.folders.get",
            folder,
            Folder,
        ),
        c(
            patch.clone(),
            format!("/v3/{folder}?updateMask=displayName"),
            Some(json!({"displayName": "Renamed"})),
            "resourcemanager.folders.update",
            folder,
            Folder,
        ),
        c(
            delete.clone(),
            format!("/v3/{folder}"),
            None,
            "resourcemanager.folders.delete",
            folder,
            Folder,
        ),
        c(
            post.clone(),
            format!("/v3/{}:undelete", fx.deleted_folder),
            empty(),
            "resourcemanager.folders.undelete",
            &fx.deleted_folder,
            Organization,
        ),
        c(
            post.clone(),
            format!("/v3/{folder}:getIamPolicy"),
            empty(),
            "resourcemanager.folders.getIamPolicy",
            folder,
            Folder,
        ),
        c(
            post.clone(),
            format!("/v3/{folder}:setIamPolicy"),
            Some(viewer.clone()),
            "resourcemanager.folders.setIamPolicy",
            folder,
            Folder,
        ),
        // organizations
        c(
            get.clone(),
            format!("/v3/{org}"),
            None,
            "resourcemanager.organizations.get",
            &org,
            Organization,
        ),
        c(
            post.clone(),
            format!("/v3/{org}:getIamPolicy"),
            empty(),
            "resourcemanager.organizations.getIamPolicy",
            &org,
            Organization,
        ),
        c(
            post.clone(),
            format!("/v1/{org}:getIamPolicy"),
            empty(),
            "resourcemanager.organizations.getIamPolicy",
            &org,
            Organization,
        ),
        c(
            post.clone(),
            format!("/v3/{org}:setIamPolicy"),
            Some(viewer.clone()),
            "resourcemanager.organizations.setIamPolicy",
            &org,
            Organization,
        ),
        // IAM: service accounts
        c(
            post.clone(),
            "/v1/projects/demo-project/serviceAccounts".into(),
            Some(json!({"accountId": "runner-sa"})),
            "iam.serviceAccounts.create",
            project,
            Project,
        ),
        c(
            get.clone(),
            "/v1/projects/demo-project/serviceAccounts".into(),
            None,
            "iam.serviceAccounts.list",
            project,
            Project,
        ),
        c(
            get.clone(),
            sa.clone(),
            None,
            "iam.serviceAccounts.get",
            &sa_name,
            Project,
        ),
        c(
            patch.clone(),
            sa.clone(),
            Some(json!({"serviceAccount": {"description": "x"}, "updateMask": "description"})),
            "iam.serviceAccounts.update",
            &sa_name,
            Project,
        ),
        c(
            delete.clone(),
            sa.clone(),
            None,
            "iam.serviceAccounts.delete",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("/v1/projects/-/serviceAccounts/{}:undelete", fx.gone_id),
            empty(),
            "iam.serviceAccounts.undelete",
            &gone_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{sa}:disable"),
            empty(),
            "iam.serviceAccounts.disable",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{sa}:enable"),
            empty(),
            "iam.serviceAccounts.enable",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{sa}:getIamPolicy"),
            None,
            "iam.serviceAccounts.getIamPolicy",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{sa}:setIamPolicy"),
            Some(viewer.clone()),
            "iam.serviceAccounts.setIamPolicy",
            &sa_name,
            Project,
        ),
        // keys
        c(
            post.clone(),
            format!("{sa}/keys"),
            empty(),
            "iam.serviceAccountKeys.create",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{sa}/keys:upload"),
            Some(json!({"publicKeyData": fx.public_key_data})),
            "iam.serviceAccountKeys.create",
            &sa_name,
            Project,
        ),
        c(
            get.clone(),
            format!("{sa}/keys"),
            None,
            "iam.serviceAccountKeys.list",
            &sa_name,
            Project,
        ),
        c(
            get.clone(),
            key.clone(),
            None,
            "iam.serviceAccountKeys.get",
            &sa_name,
            Project,
        ),
        c(
            delete.clone(),
            key.clone(),
            None,
            "iam.serviceAccountKeys.delete",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{key}:disable"),
            empty(),
            "iam.serviceAccountKeys.disable",
            &sa_name,
            Project,
        ),
        c(
            post.clone(),
            format!("{key}:enable"),
            empty(),
            "iam.serviceAccountKeys.enable",
            &sa_name,
            Project,
        ),
        // roles
        c(
            post.clone(),
            roles.into(),
            Some(
                json!({"roleId": "deployer", "role": {"title": "D", "includedPermissions": ["run.services.get"]}}),
            ),
            "iam.roles.create",
            project,
            Project,
        ),
        c(
            get.clone(),
            roles.into(),
            None,
            "iam.roles.list",
            project,
            Project,
        ),
        c(
            get.clone(),
            format!("{roles}/fixture"),
            None,
            "iam.roles.get",
            project,
            Project,
        ),
        c(
            patch.clone(),
            format!("{roles}/fixture?updateMask=title"),
            Some(json!({"title": "T"})),
            "iam.roles.update",
            project,
            Project,
        ),
        c(
            delete.clone(),
            format!("{roles}/fixture"),
            None,
            "iam.roles.delete",
            project,
            Project,
        ),
        c(
            post.clone(),
            format!("{roles}/deadrole:undelete"),
            empty(),
            "iam.roles.undelete",
            project,
            Project,
        ),
        c(
            post.clone(),
            format!("/v1/{org}/roles"),
            Some(
                json!({"roleId": "orgrole", "role": {"title": "O", "includedPermissions": ["run.services.get"]}}),
            ),
            "iam.roles.create",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            format!("/v1/{org}/roles/orgfixture"),
            None,
            "iam.roles.get",
            &org,
            Organization,
        ),
        // Org Policy v2
        c(
            get.clone(),
            "/v2/projects/demo-project/constraints".into(),
            None,
            "orgpolicy.constraints.list",
            project,
            Project,
        ),
        c(
            get.clone(),
            format!("/v2/{org}/constraints"),
            None,
            "orgpolicy.constraints.list",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            v2.into(),
            None,
            "orgpolicy.policies.list",
            project,
            Project,
        ),
        c(
            post.clone(),
            v2.into(),
            Some(
                json!({"name": "projects/demo-project/policies/iam.disableServiceAccountKeyCreation", "spec": {"rules": [{"enforce": true}]}}),
            ),
            "orgpolicy.policies.create",
            project,
            Project,
        ),
        c(
            get.clone(),
            format!("{v2}/run.allowedIngress"),
            None,
            "orgpolicy.policy.get",
            project,
            Project,
        ),
        c(
            patch.clone(),
            format!("{v2}/run.allowedIngress"),
            Some(json!({"spec": {"rules": [{"denyAll": true}]}})),
            "orgpolicy.policies.update",
            project,
            Project,
        ),
        c(
            delete.clone(),
            format!("{v2}/run.allowedIngress"),
            None,
            "orgpolicy.policies.delete",
            project,
            Project,
        ),
        c(
            get.clone(),
            format!("{v2}/run.allowedIngress:getEffectivePolicy"),
            None,
            "orgpolicy.policy.get",
            project,
            Project,
        ),
        // Org Policy v1
        c(
            post.clone(),
            "/v1/projects/demo-project:setOrgPolicy".into(),
            Some(json!({"policy": {"constraint": ingress, "listPolicy": {"allValues": "ALLOW"}}})),
            "orgpolicy.policy.set",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:getOrgPolicy".into(),
            Some(json!({"constraint": ingress})),
            "orgpolicy.policy.get",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:getEffectiveOrgPolicy".into(),
            Some(json!({"constraint": ingress})),
            "orgpolicy.policy.get",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:listOrgPolicies".into(),
            empty(),
            "orgpolicy.policy.get",
            project,
            Project,
        ),
        c(
            post.clone(),
            "/v1/projects/demo-project:clearOrgPolicy".into(),
            Some(json!({"constraint": ingress})),
            "orgpolicy.policy.set",
            project,
            Project,
        ),
        c(
            post.clone(),
            format!("/v1/{folder}:getEffectiveOrgPolicy"),
            Some(json!({"constraint": ingress})),
            "orgpolicy.policy.get",
            folder,
            Folder,
        ),
        c(
            post.clone(),
            format!("/v1/{org}:setOrgPolicy"),
            Some(json!({"policy": {"constraint": ingress, "listPolicy": {"allValues": "ALLOW"}}})),
            "orgpolicy.policy.set",
            &org,
            Organization,
        ),
        // Org Policy v2 custom constraints (organization only)
        c(
            post.clone(),
            format!("/v2/{org}/customConstraints"),
            Some(custom_constraint(&org, "created")),
            "orgpolicy.customConstraints.create",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            format!("/v2/{org}/customConstraints"),
            None,
            "orgpolicy.customConstraints.list",
            &org,
            Organization,
        ),
        c(
            get.clone(),
            format!("/v2/{org}/customConstraints/custom.fixture"),
            None,
            "orgpolicy.customConstraints.get",
            &org,
            Organization,
        ),
        c(
            patch.clone(),
            format!("/v2/{org}/customConstraints/custom.fixture"),
            Some(custom_constraint(&org, "fixture")),
            "orgpolicy.customConstraints.update",
            &org,
            Organization,
        ),
        c(
            delete.clone(),
            format!("/v2/{org}/customConstraints/custom.fixture"),
            None,
            "orgpolicy.customConstraints.delete",
            &org,
            Organization,
        ),
        // Service Usage
        c(
            post,
            "/v1beta1/projects/demo-project/services/iap.googleapis.com:generateServiceIdentity"
                .into(),
            empty(),
            "serviceusage.services.use",
            project,
            Project,
        ),
    ]
}

#[tokio::test]
async fn permission_matrix_refuses_without_and_allows_with_the_smallest_role() {
    let probe = harness();
    let count = cases(&probe, &fixtures(&probe).await).len();
    for index in 0..count {
        let h = harness();
        let fx = fixtures(&h).await;
        let case = cases(&h, &fx).swap_remove(index);
        let what = format!("{} {}", case.method, case.path);
        let (status, body) = h
            .call(OUTSIDER, case.method.clone(), &case.path, case.body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert_eq!(
            body["error"]["message"],
            format!(
                "Permission '{}' denied on resource '{}' (or it may not exist).",
                case.permission, case.denied_on
            ),
            "{what}"
        );
        let role = smallest_role(&h, case.permission);
        let resource = match case.scope {
            Scope::Project => ResourceRef::Project("demo-project".into()),
            Scope::Folder => ResourceRef::Folder(fx.folder.trim_start_matches("folders/").into()),
            Scope::Organization => ResourceRef::Organization(h.organization.id.clone()),
        };
        h.control
            .grant_roles(&resource, &[(role.as_str(), OUTSIDER.to_owned())])
            .unwrap();
        let (status, body) = h
            .call(OUTSIDER, case.method.clone(), &case.path, case.body.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{what} with {role}: {body}");
    }
}

/// The methods whose permission the matrix does not cover say why here: `:move` checks two
/// permissions (covered in `folders_nest_and_projects_move_between_them`), searches and
/// `testIamPermissions` need none, predefined roles and testable permissions are public.
#[test]
fn every_route_of_this_area_names_a_known_permission_or_none() {
    let engine = Harness::new().control.engine();
    for route in kumo_api::routes::ROUTES {
        let Some(permission) = route.permission else {
            continue;
        };
        let ours = [
            "cloudresourcemanager",
            "iam.admin",
            "orgpolicy",
            "serviceusage",
        ]
        .iter()
        .any(|api| route.rpc.contains(api));
        if ours {
            let parsed: kumo_names::Permission = permission.parse().unwrap();
            assert!(
                !engine.catalog().roles_granting(&parsed).is_empty(),
                "{} names unknown {permission}",
                route.template
            );
        }
    }
}

#[tokio::test]
async fn project_creation_provisions_accounts_and_resolves_by_id_and_number() {
    let h = harness();
    let org = format!("organizations/{}", h.organization.id);
    let (status, operation) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(json!({"projectId": "new-project", "parent": org, "displayName": "New"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["done"], true);
    let project = &operation["response"];
    assert_eq!(
        project["@type"],
        "type.googleapis.com/google.cloud.resourcemanager.v3.Project"
    );
    assert_eq!(project["projectId"], "new-project");
    assert_eq!(project["state"], "ACTIVE");
    let number = project["name"]
        .as_str()
        .unwrap()
        .trim_start_matches("projects/")
        .to_owned();
    assert!(
        number.len() >= 12 && number.bytes().all(|b| b.is_ascii_digit()),
        "{number}"
    );

    // The operation can be polled.
    let (status, polled) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("/v3/{}", operation["name"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{polled}");
    assert_eq!(polled, operation);

    // Id and number name the same project.
    let (_, by_id) = h
        .call(ADMIN, Method::GET, "/v3/projects/new-project", None)
        .await;
    let (_, by_number) = h
        .call(ADMIN, Method::GET, &format!("/v3/projects/{number}"), None)
        .await;
    assert_eq!(by_id, by_number);
    assert_eq!(by_id["parent"], org);

    // The default compute account exists and holds roles/editor; the creator owns the project.
    let compute = format!("{number}-compute@developer.gserviceaccount.com");
    let (status, account) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/projects/-/serviceAccounts/{compute}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["projectId"], "new-project");
    assert_eq!(account["uniqueId"].as_str().unwrap().len(), 21);
    let (_, policy) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/projects/{number}:getIamPolicy"),
            Some(json!({})),
        )
        .await;
    assert!(
        has_binding(
            &policy,
            "roles/editor",
            &format!("serviceAccount:{compute}")
        ),
        "{policy}"
    );
    assert!(has_binding(&policy, "roles/owner", ADMIN), "{policy}");
    assert!(has_binding(
        &policy,
        "roles/run.serviceAgent",
        &format!("serviceAccount:service-{number}@serverless-robot-prod.iam.gserviceaccount.com")
    ));

    // Google's id rules and uniqueness.
    let (status, error) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(json!({"projectId": "Bad_Id", "parent": org})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(json!({"projectId": "new-project", "parent": org})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn automatic_editor_grant_obeys_the_org_policy() {
    let h = harness();
    let org = format!("organizations/{}", h.organization.id);
    let (status, body) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/{org}:setOrgPolicy"),
            Some(json!({"policy": {"constraint": "constraints/iam.automaticIamGrantsForDefaultServiceAccounts", "booleanPolicy": {"enforced": true}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, operation) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(json!({"projectId": "quiet-project", "parent": org})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    let (_, policy) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects/quiet-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert!(!policy.to_string().contains("roles/editor"), "{policy}");
}

#[tokio::test]
async fn delete_and_undelete_a_project() {
    let h = harness();
    let (status, operation) = h
        .call(ALICE, Method::DELETE, "/v3/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["response"]["state"], "DELETE_REQUESTED");
    let (_, project) = h
        .call(ALICE, Method::GET, "/v3/projects/demo-project", None)
        .await;
    assert_eq!(project["state"], "DELETE_REQUESTED");
    assert!(project["deleteTime"].is_string());
    let org = format!("organizations/{}", h.organization.id);
    let (_, listed) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("/v3/projects?parent={org}"),
            None,
        )
        .await;
    assert!(listed.get("projects").is_none(), "{listed}");
    let (status, _) = h
        .call(ALICE, Method::DELETE, "/v3/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, operation) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:undelete",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["response"]["state"], "ACTIVE");
    let (_, listed) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("/v3/projects?parent={org}"),
            None,
        )
        .await;
    assert_eq!(listed["projects"][0]["projectId"], "demo-project");
}

#[tokio::test]
async fn folders_nest_and_projects_move_between_them() {
    let h = harness();
    let org = format!("organizations/{}", h.organization.id);
    let (status, operation) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/folders",
            Some(json!({"displayName": "Team A", "parent": org})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    let folder = operation["response"]["name"].as_str().unwrap().to_owned();
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/folders",
            Some(json!({"displayName": "Team A", "parent": org})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "sibling folders need distinct names"
    );

    // A folder-level grant reaches projects moved under it.
    h.control
        .grant_roles(
            &ResourceRef::Folder(folder.trim_start_matches("folders/").into()),
            &[("roles/viewer", BOB.to_owned())],
        )
        .unwrap();
    let (status, _) = h
        .call(BOB, Method::GET, "/v3/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, moved) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects/demo-project:move",
            Some(json!({"destinationParent": folder})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, project) = h
        .call(BOB, Method::GET, "/v3/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    assert_eq!(project["parent"], folder);

    let (status, _) = h
        .call(ADMIN, Method::DELETE, &format!("/v3/{folder}"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a folder with a project is not empty"
    );
    let (_, found) = h
        .call(
            ADMIN,
            Method::GET,
            "/v3/folders:search?query=displayName:Team*",
            None,
        )
        .await;
    assert_eq!(found["folders"][0]["name"], folder);
    let (_, found) = h
        .call(
            BOB,
            Method::GET,
            "/v3/projects:search?query=id:demo-*",
            None,
        )
        .await;
    assert_eq!(found["projects"][0]["projectId"], "demo-project");
}

#[tokio::test]
async fn stale_etag_is_aborted_and_changes_nothing() {
    let h = harness();
    let (_, policy) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    let mut first = policy.clone();
    first["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "roles/viewer", "members": ["user:carol@example.com"]}));
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:setIamPolicy",
            Some(json!({"policy": first})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, current) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;

    let mut stale = policy.clone();
    stale["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "roles/viewer", "members": ["user:dave@example.com"]}));
    let (status, error) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:setIamPolicy",
            Some(json!({"policy": stale})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["status"], "ABORTED");
    let (_, after) = h
        .call(
            ALICE,
            Method::POST,
            "/v3/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(after, current);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_binding() {
    let h = Arc::new(harness());
    let mut tasks = Vec::new();
    for n in 0..50 {
        let h = Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let member = format!("user:u{n}@example.com");
            for attempt in 0..200u64 {
                let (_, mut policy) = h
                    .call(
                        ALICE,
                        Method::POST,
                        "/v1/projects/demo-project:getIamPolicy",
                        Some(json!({})),
                    )
                    .await;
                policy["bindings"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"role": "roles/viewer", "members": [member]}));
                let (status, body) = h
                    .call(
                        ALICE,
                        Method::POST,
                        "/v1/projects/demo-project:setIamPolicy",
                        Some(json!({"policy": policy})),
                    )
                    .await;
                match status {
                    StatusCode::OK => return,
                    StatusCode::CONFLICT => {
                        tokio::time::sleep(std::time::Duration::from_millis(1 + attempt % 7)).await
                    }
                    other => panic!("{other}: {body}"),
                }
            }
            panic!("{member} never got through");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, policy) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    for n in 0..50 {
        assert!(
            has_binding(&policy, "roles/viewer", &format!("user:u{n}@example.com")),
            "u{n} lost"
        );
    }
}

#[tokio::test]
async fn allowed_policy_member_domains_refuses_outsiders() {
    let h = harness();
    let org = format!("organizations/{}", h.organization.id);
    let (status, body) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/{org}:setOrgPolicy"),
            Some(json!({"policy": {"constraint": "constraints/iam.allowedPolicyMemberDomains", "listPolicy": {"allowedValues": [h.organization.customer_id]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A service account's policy starts empty, so only the members named here are judged.
    let sa = format!(
        "/v1/projects/demo-project/serviceAccounts/{}",
        compute_email(&h)
    );
    let binding = |member: &str| json!({"policy": {"bindings": [{"role": "roles/iam.serviceAccountUser", "members": [member]}]}});
    let (status, error) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{sa}:setIamPolicy"),
            Some(binding("user:eve@elsewhere.org")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["status"], "FAILED_PRECONDITION");
    assert!(
        error["error"]["message"].as_str().unwrap().starts_with(
            "One or more users named in the policy do not belong to a permitted customer"
        ),
        "{error}"
    );
    assert_eq!(
        error["error"]["details"][0]["violations"][0]["type"],
        "constraints/iam.allowedPolicyMemberDomains"
    );
    let (_, unchanged) = h
        .call(ALICE, Method::POST, &format!("{sa}:getIamPolicy"), None)
        .await;
    assert!(unchanged.get("bindings").is_none(), "{unchanged}");
    // Members of the organization's own customer still pass.
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{sa}:setIamPolicy"),
            Some(binding("user:carol@example.com")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn org_policy_v1_enforce_round_trip_and_inheritance() {
    let h = harness();
    let org = format!("organizations/{}", h.organization.id);
    let constraint = "constraints/iam.disableServiceAccountKeyCreation";
    let effective = |path: String| {
        let h = &h;
        async move {
            let (status, body) = h
                .call(
                    ADMIN,
                    Method::POST,
                    &format!("{path}:getEffectiveOrgPolicy"),
                    Some(json!({"constraint": constraint})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["booleanPolicy"]["enforced"] == true
        }
    };
    assert!(!effective("/v1/projects/demo-project".into()).await);

    // enable-enforce on the organization is inherited by the project.
    let (status, set) = h
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/{org}:setOrgPolicy"),
            Some(
                json!({"policy": {"constraint": constraint, "booleanPolicy": {"enforced": true}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["booleanPolicy"]["enforced"], true);
    assert!(set["etag"].is_string());
    assert!(effective("/v1/projects/demo-project".into()).await);
    let (_, v2) = h
        .call(
            ADMIN,
            Method::GET,
            &format!(
                "/v2/projects/demo-project/policies/{}:getEffectivePolicy",
                &constraint[12..]
            ),
            None,
        )
        .await;
    assert_eq!(v2["spec"]["rules"][0]["enforce"], true, "{v2}");
    assert_eq!(
        v2["name"],
        format!(
            "projects/{}/policies/iam.disableServiceAccountKeyCreation",
            h.project.number
        )
    );

    // disable-enforce on the project overrides it there only.
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:setOrgPolicy",
            Some(json!({"policy": {"constraint": constraint, "booleanPolicy": {}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!effective("/v1/projects/demo-project".into()).await);
    assert!(effective(format!("/v1/{org}")).await);
    let (_, got) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:getOrgPolicy",
            Some(json!({"constraint": constraint})),
        )
        .await;
    assert_eq!(got["booleanPolicy"], json!({}));
    let (_, listed) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:listOrgPolicies",
            Some(json!({})),
        )
        .await;
    assert_eq!(listed["policies"][0]["constraint"], constraint);

    // A stale etag is refused; clearing restores inheritance.
    let (status, _) = h
        .call(ADMIN, Method::POST, "/v1/projects/demo-project:setOrgPolicy", Some(json!({"policy": {"constraint": constraint, "booleanPolicy": {"enforced": true}, "etag": "BwAAAAAAAP8="}})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:clearOrgPolicy",
            Some(json!({"constraint": constraint})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(effective("/v1/projects/demo-project".into()).await);

    // Type mismatch and unknown constraints are INVALID_ARGUMENT.
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:setOrgPolicy",
            Some(
                json!({"policy": {"constraint": constraint, "listPolicy": {"allValues": "DENY"}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            "/v1/projects/demo-project:getOrgPolicy",
            Some(json!({"constraint": "constraints/no.such"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn org_policy_v2_crud_with_etags() {
    let h = harness();
    let base = "/v2/projects/demo-project/policies";
    let name = "projects/demo-project/policies/run.allowedIngress";
    let (status, created) = h
        .call(ADMIN, Method::POST, base, Some(json!({"name": name, "spec": {"rules": [{"values": {"allowedValues": ["is:internal"]}}]}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created["name"],
        format!("projects/{}/policies/run.allowedIngress", h.project.number)
    );
    let (status, _) = h
        .call(
            ADMIN,
            Method::POST,
            base,
            Some(json!({"name": name, "spec": {"rules": [{"allowAll": true}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = h.call(ADMIN, Method::PATCH, &format!("{base}/run.allowedIngress"), Some(json!({"name": name, "etag": "BwAAAAAAAP8=", "spec": {"rules": [{"allowAll": true}]}}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, updated) = h
        .call(ADMIN, Method::PATCH, &format!("{base}/run.allowedIngress"), Some(json!({"name": name, "etag": created["etag"], "spec": {"rules": [{"allowAll": true}]}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["spec"]["rules"][0]["allowAll"], true);
    let (status, _) = h.call(ADMIN, Method::POST, base, Some(json!({"name": "projects/demo-project/policies/iam.disableServiceAccountKeyCreation", "spec": {"rules": [{"allowAll": true}]}}))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "allowAll on a boolean constraint"
    );
    let (_, constraints) = h
        .call(
            ADMIN,
            Method::GET,
            "/v2/projects/demo-project/constraints",
            None,
        )
        .await;
    assert!(
        constraints["constraints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"]
                .as_str()
                .unwrap()
                .ends_with("/constraints/iam.allowedPolicyMemberDomains"))
    );
    let (status, _) = h
        .call(
            ADMIN,
            Method::DELETE,
            &format!("{base}/run.allowedIngress"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("{base}/run.allowedIngress"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_account_lifecycle() {
    let h = harness();
    let base = "/v1/projects/demo-project/serviceAccounts";
    let (status, account) = h
        .call(ALICE, Method::POST, base, Some(json!({"accountId": "runner-sa", "serviceAccount": {"displayName": "Runner", "description": "runs things"}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let email = "runner-sa@demo-project.iam.gserviceaccount.com";
    assert_eq!(account["email"], email);
    assert_eq!(
        account["name"],
        format!("projects/demo-project/serviceAccounts/{email}")
    );
    let unique_id = account["uniqueId"].as_str().unwrap().to_owned();
    assert_eq!(unique_id.len(), 21);
    assert_eq!(account["oauth2ClientId"], unique_id.as_str());

    let (status, error) = h
        .call(
            ALICE,
            Method::POST,
            base,
            Some(json!({"accountId": "runner-sa"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        error["error"]["message"],
        "Service account runner-sa already exists within project projects/demo-project."
    );
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            base,
            Some(json!({"accountId": "Bad_Name"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Email (with %40), unique id and the `-` project all find it.
    let (status, by_email) = h
        .call(
            ALICE,
            Method::GET,
            &format!(
                "/v1/projects/-/serviceAccounts/{}",
                email.replace('@', "%40")
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, by_id) = h
        .call(ALICE, Method::GET, &format!("{base}/{unique_id}"), None)
        .await;
    assert_eq!(by_email, by_id);

    let (status, patched) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{base}/{email}"),
            Some(
                json!({"serviceAccount": {"displayName": "Renamed"}, "updateMask": "displayName"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["displayName"], "Renamed");
    assert_eq!(patched["description"], "runs things");

    h.call(
        ALICE,
        Method::POST,
        &format!("{base}/{email}:disable"),
        Some(json!({})),
    )
    .await;
    let (_, disabled) = h
        .call(ALICE, Method::GET, &format!("{base}/{email}"), None)
        .await;
    assert_eq!(disabled["disabled"], true);
    h.call(
        ALICE,
        Method::POST,
        &format!("{base}/{email}:enable"),
        Some(json!({})),
    )
    .await;
    let (_, enabled) = h
        .call(ALICE, Method::GET, &format!("{base}/{email}"), None)
        .await;
    assert!(enabled.get("disabled").is_none());

    // The listing shows it and the compute account, not Google's service agents.
    let (_, listed) = h.call(ALICE, Method::GET, base, None).await;
    let emails: Vec<&str> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&email));
    assert!(emails.contains(&compute_email(&h).as_str()));
    assert!(
        !emails.iter().any(|e| e.contains("serverless-robot")),
        "{emails:?}"
    );

    let (status, _) = h
        .call(ALICE, Method::DELETE, &format!("{base}/{email}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(ALICE, Method::GET, &format!("{base}/{email}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, restored) = h
        .call(
            ALICE,
            Method::POST,
            &format!("/v1/projects/-/serviceAccounts/{unique_id}:undelete"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["restoredAccount"]["email"], email);

    // Its own IAM policy: granting actAs to bob.
    let sa = format!("{base}/{email}");
    let (status, policy) = h
        .call(ALICE, Method::POST, &format!("{sa}:getIamPolicy"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (status, set) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{sa}:setIamPolicy"),
            Some(json!({"policy": {"etag": policy["etag"], "bindings": [{"role": "roles/iam.serviceAccountUser", "members": [BOB]}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (_, held) = h
        .call(
            BOB,
            Method::POST,
            &format!("{sa}:testIamPermissions"),
            Some(
                json!({"permissions": ["iam.serviceAccounts.actAs", "iam.serviceAccounts.delete"]}),
            ),
        )
        .await;
    assert_eq!(held["permissions"], json!(["iam.serviceAccounts.actAs"]));
}

#[tokio::test]
async fn keys_are_issued_once_and_refused_under_the_org_policy() {
    let h = harness();
    let sa = format!(
        "/v1/projects/demo-project/serviceAccounts/{}",
        compute_email(&h)
    );
    let (status, key) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{sa}/keys"),
            Some(json!({"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["privateKeyType"], "TYPE_GOOGLE_CREDENTIALS_FILE");
    let file = base64::engine::general_purpose::STANDARD
        .decode(key["privateKeyData"].as_str().unwrap())
        .unwrap();
    let file: Value = serde_json::from_slice(&file).unwrap();
    assert_eq!(file["type"], "service_account");
    assert_eq!(file["client_email"], compute_email(&h));
    let key_id = key["name"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(file["private_key_id"], key_id.as_str());

    // Only the public part is kept.
    let (status, stored) = h
        .call(ALICE, Method::GET, &format!("{sa}/keys/{key_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert!(stored.get("privateKeyData").is_none());
    assert_eq!(stored["keyType"], "USER_MANAGED");
    let (_, listed) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{sa}/keys?keyTypes=USER_MANAGED"),
            None,
        )
        .await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    h.call(
        ALICE,
        Method::POST,
        &format!("{sa}/keys/{key_id}:disable"),
        Some(json!({})),
    )
    .await;
    let (_, disabled) = h
        .call(ALICE, Method::GET, &format!("{sa}/keys/{key_id}"), None)
        .await;
    assert_eq!(disabled["disabled"], true);
    let (status, _) = h
        .call(ALICE, Method::DELETE, &format!("{sa}/keys/{key_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(ALICE, Method::GET, &format!("{sa}/keys/{key_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let org = format!("organizations/{}", h.organization.id);
    h.call(
        ADMIN,
        Method::POST,
        &format!("/v1/{org}:setOrgPolicy"),
        Some(json!({"policy": {"constraint": "constraints/iam.disableServiceAccountKeyCreation", "booleanPolicy": {"enforced": true}}})),
    )
    .await;
    let (status, error) = h
        .call(ALICE, Method::POST, &format!("{sa}/keys"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(
        error["error"]["message"],
        "Key creation is not allowed on this service account."
    );
    let violation = &error["error"]["details"][0]["violations"][0];
    assert_eq!(
        violation["type"],
        "constraints/iam.disableServiceAccountKeyCreation"
    );
    assert_eq!(
        violation["subject"],
        format!(
            "projects/demo-project/serviceAccounts/{}?configvalue={}",
            compute_email(&h),
            compute_email(&h).replace('@', "%40")
        )
    );
}

#[tokio::test]
async fn custom_role_lifecycle_and_a_deleted_role_stops_granting() {
    let h = harness();
    let roles = "/v1/projects/demo-project/roles";
    let (status, error) = h
        .call(ALICE, Method::POST, roles, Some(json!({"roleId": "lister", "role": {"title": "Lister", "includedPermissions": ["no.such.permission"]}})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["error"]["message"],
        "Permission no.such.permission is not valid."
    );
    let (status, role) = h
        .call(ALICE, Method::POST, roles, Some(json!({"roleId": "lister", "role": {"title": "Lister", "includedPermissions": ["iam.serviceAccounts.list"], "stage": "GA"}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["name"], "projects/demo-project/roles/lister");
    assert_eq!(
        role["includedPermissions"],
        json!(["iam.serviceAccounts.list"])
    );
    h.control
        .grant_roles(
            &ResourceRef::Project("demo-project".into()),
            &[("projects/demo-project/roles/lister", BOB.to_owned())],
        )
        .unwrap();
    let list = "/v1/projects/demo-project/serviceAccounts";
    assert_eq!(h.call(BOB, Method::GET, list, None).await.0, StatusCode::OK);

    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("{roles}/lister"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        h.call(BOB, Method::GET, list, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, listed) = h.call(ALICE, Method::GET, roles, None).await;
    assert!(listed.get("roles").is_none(), "{listed}");
    let (_, listed) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{roles}?showDeleted=true"),
            None,
        )
        .await;
    assert_eq!(listed["roles"][0]["deleted"], true);

    let (status, undeleted) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{roles}/lister:undelete"),
            Some(json!({"etag": deleted["etag"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{undeleted}");
    assert_eq!(h.call(BOB, Method::GET, list, None).await.0, StatusCode::OK);

    // Removing the permission takes it away too.
    let (status, patched) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{roles}/lister?updateMask=includedPermissions"),
            Some(json!({"includedPermissions": ["iam.serviceAccounts.get"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        h.call(BOB, Method::GET, list, None).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn predefined_roles_and_testable_permissions() {
    let h = harness();
    let (status, role) = h
        .call(BOB, Method::GET, "/v1/roles/run.invoker", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["name"], "roles/run.invoker");
    assert!(
        role["includedPermissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "run.routes.invoke")
    );
    let (_, page) = h.call(BOB, Method::GET, "/v1/roles?pageSize=5", None).await;
    assert_eq!(page["roles"].as_array().unwrap().len(), 5);
    assert!(
        page["roles"][0].get("includedPermissions").is_none(),
        "BASIC view"
    );
    assert!(page["nextPageToken"].is_string());
    let (_, full) = h
        .call(BOB, Method::GET, "/v1/roles?pageSize=1&view=FULL", None)
        .await;
    assert!(full["roles"][0]["includedPermissions"].is_array());
    let (status, _) = h
        .call(BOB, Method::GET, "/v1/roles/no.such.role", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, testable) = h
        .call(
            BOB,
            Method::POST,
            "/v1/permissions:queryTestablePermissions",
            Some(json!({"fullResourceName": format!("//iam.googleapis.com/projects/demo-project/serviceAccounts/{}", compute_email(&h)), "pageSize": 1000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{testable}");
    let names: Vec<&str> = testable["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"iam.serviceAccounts.actAs"));
    assert!(
        names.iter().all(|n| n.starts_with("iam.serviceAccount")),
        "{names:?}"
    );
}

#[tokio::test]
async fn service_identity_for_iap_is_created_once() {
    let h = harness();
    let path = "/v1beta1/projects/demo-project/services/iap.googleapis.com:generateServiceIdentity";
    let (status, operation) = h.call(ALICE, Method::POST, path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["done"], true);
    let identity = &operation["response"];
    assert_eq!(
        identity["@type"],
        "type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity"
    );
    let email = format!(
        "service-{}@gcp-sa-iap.iam.gserviceaccount.com",
        h.project.number
    );
    assert_eq!(identity["email"], email.as_str());
    let (_, again) = h.call(ALICE, Method::POST, path, Some(json!({}))).await;
    assert_eq!(again["response"]["uniqueId"], identity["uniqueId"]);
    let found = h.control.find_service_account(&email).unwrap().unwrap();
    assert_eq!(found.value["projectId"], "demo-project");
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            "/v1beta1/projects/demo-project/services/not_a_service:generateServiceIdentity",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn set_iam_policy_stores_googles_canonical_form() {
    let h = Harness::new();
    let (_, current) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    let mut bindings = current["bindings"].as_array().cloned().unwrap();
    bindings.push(json!({"role": "roles/run.invoker", "members": ["user:zed@example.com", "user:bob@example.com"]}));
    bindings.push(json!({"role": "roles/run.invoker", "members": ["user:bob@example.com", "group:devs@example.com"]}));
    let (status, stored) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:setIamPolicy",
            Some(json!({"policy": {"bindings": bindings, "etag": current["etag"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let invokers: Vec<&Value> = stored["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["role"] == "roles/run.invoker")
        .collect();
    assert_eq!(invokers.len(), 1, "{stored}");
    assert_eq!(
        invokers[0]["members"],
        json!([
            "group:devs@example.com",
            "user:bob@example.com",
            "user:zed@example.com"
        ])
    );
    let roles: Vec<&str> = stored["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["role"].as_str().unwrap())
        .collect();
    let mut sorted = roles.clone();
    sorted.sort_unstable();
    assert_eq!(roles, sorted);
    let (_, read) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(read["bindings"], stored["bindings"]);
}

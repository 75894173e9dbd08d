//! IAM, Resource Manager, org policies, IAP, Service Usage, Artifact Registry, Logging and the
//! directory, against the Google API test double.

mod fake;

use base64::Engine as _;
use fake::{Cli, Fake, err, ok};
use serde_json::json;

#[test]
fn iap_web_binding_on_a_cloud_run_service_seed_003() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/v3/projects/demo-project",
        vec![ok(
            json!({"projectId": "demo-project", "name": "projects/123456789012"}),
        )],
    );
    let res = "/v1/projects/123456789012/iap_web/cloud_run-asia-northeast1/services/my-iap-service";
    fake.on(
        "POST",
        &format!("{res}:getIamPolicy"),
        vec![ok(json!({"etag": "BwA="}))],
    );
    fake.on(
        "POST",
        &format!("{res}:setIamPolicy"),
        vec![ok(json!({"etag": "BwB=", "bindings": [{"role": "roles/iap.httpsResourceAccessor", "members": ["user:alice@example.com"]}]}))],
    );
    let o = Cli::new(&fake).run(
        "gcloud alpha iap web add-iam-policy-binding --member=user:alice@example.com --role=roles/iap.httpsResourceAccessor \
         --region asia-northeast1 --resource-type=cloud-run --service=my-iap-service",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.lines(),
        [
            "GET /v3/projects/demo-project".to_owned(),
            format!("POST {res}:getIamPolicy"),
            format!("POST {res}:setIamPolicy")
        ]
    );
    assert_eq!(
        fake.find("POST", &format!("{res}:setIamPolicy")).json(),
        json!({"policy": {"etag": "BwA=", "bindings": [{"role": "roles/iap.httpsResourceAccessor", "members": ["user:alice@example.com"]}]}})
    );
    assert_eq!(
        o.stderr,
        "Updated IAM policy for IAP resource [my-iap-service].\n"
    );
    assert_eq!(
        o.stdout,
        "bindings:\n- members:\n  - user:alice@example.com\n  role: roles/iap.httpsResourceAccessor\netag: BwB=\n"
    );

    let o = Cli::new(&fake).run("iap web get-iam-policy --resource-type=app-engine --service x");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("Invalid choice: 'app-engine'"),
        "{}",
        o.stderr
    );
}

/// Without `--service`, gcloud's cloud-run resource type names the region's level
/// (`iap_web/cloud_run-REGION`), whose bindings every service of the region inherits.
#[test]
fn iap_web_binding_on_a_cloud_run_region() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/v3/projects/demo-project",
        vec![ok(
            json!({"projectId": "demo-project", "name": "projects/123456789012"}),
        )],
    );
    let res = "/v1/projects/123456789012/iap_web/cloud_run-us-central1";
    fake.on(
        "POST",
        &format!("{res}:getIamPolicy"),
        vec![ok(json!({"etag": "BwA=", "bindings": [{"role": "roles/iap.httpsResourceAccessor", "members": ["group:devs@example.com"]}]}))],
    );
    let o = Cli::new(&fake)
        .run("iap web get-iam-policy --resource-type=cloud-run --region us-central1 --format json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.lines(),
        [
            "GET /v3/projects/demo-project".to_owned(),
            format!("POST {res}:getIamPolicy"),
        ]
    );
    assert!(o.stdout.contains("group:devs@example.com"), "{}", o.stdout);

    // gcloud's iap commands read --region only (not run/region), and cloud-run needs it.
    for args in [
        "iap web get-iam-policy --resource-type=cloud-run --service=my-iap-service",
        "iap web get-iam-policy --resource-type=cloud-run",
    ] {
        let o = Cli::new(&fake).run(args);
        assert_eq!(o.code, 1, "{args}");
        assert_eq!(
            o.stderr,
            "ERROR: (kumo.iap.web.get-iam-policy) Invalid value for [--region]: `--region` must be specified for `--resource-type=cloud-run`.\n"
        );
    }
    let o = Cli::new(&fake).run("iap web get-iam-policy --service=x");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("`--service` cannot be specified without `--resource-type`."),
        "{}",
        o.stderr
    );
}

#[test]
fn services_identity_create_waits_for_the_operation() {
    let fake = Fake::start();
    let path = "/v1beta1/projects/demo-project/services/iap.googleapis.com:generateServiceIdentity";
    fake.on(
        "POST",
        path,
        vec![ok(json!({"name": "operations/gsi.1", "done": false}))],
    );
    fake.on(
        "GET",
        "/v1beta1/operations/gsi.1",
        vec![ok(
            json!({"name": "operations/gsi.1", "done": true, "response": {
            "@type": "type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity",
            "email": "service-123456789012@gcp-sa-iap.iam.gserviceaccount.com", "uniqueId": "1"}}),
        )],
    );
    let o = Cli::new(&fake).run(
        "gcloud beta services identity create --service=iap.googleapis.com --project=demo-project",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Service identity created: service-123456789012@gcp-sa-iap.iam.gserviceaccount.com\n"
    );
}

#[test]
fn project_binding_seed_003_and_lro_errors() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v1/projects/demo-project:getIamPolicy",
        vec![ok(json!({"etag": "BwA=", "version": 1}))],
    );
    fake.on(
        "POST",
        "/v1/projects/demo-project:setIamPolicy",
        vec![ok(json!({"etag": "BwB="}))],
    );
    let member = "serviceAccount:service-123456789012@gcp-sa-iap.iam.gserviceaccount.com";
    let o = Cli::new(&fake).run(&format!(
        "projects add-iam-policy-binding demo-project --member={member} --role=roles/run.invoker"
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "Updated IAM policy for project [demo-project].\n");
    assert_eq!(
        fake.find("POST", "/v1/projects/demo-project:getIamPolicy")
            .json(),
        json!({"options": {"requestedPolicyVersion": 3}})
    );
    assert_eq!(
        fake.find("POST", "/v1/projects/demo-project:setIamPolicy")
            .json()["policy"]["bindings"],
        json!([{"role": "roles/run.invoker", "members": [member]}])
    );

    // A conditional binding raises the policy version to 3.
    let o = Cli::new(&fake).run(
        "projects add-iam-policy-binding demo-project --member=user:bob@example.com --role=roles/viewer \
         --condition='expression=request.time < timestamp(\"2030-01-01T00:00:00Z\"),title=until 2030'",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let sent = fake.requests().pop().unwrap().json();
    assert_eq!(sent["policy"]["version"], 3);
    assert_eq!(
        sent["policy"]["bindings"][0]["condition"]["title"],
        "until 2030"
    );

    fake.on(
        "POST",
        "/v3/projects",
        vec![ok(json!({"name": "operations/cp.7", "done": false}))],
    );
    fake.on(
        "GET",
        "/v3/operations/cp.7",
        vec![ok(json!({"name": "operations/cp.7", "done": true, "error": {"code": 6, "message": "Requested entity already exists"}}))],
    );
    let o = Cli::new(&fake).run("projects create other-project --organization 1234");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.ends_with(
            "ERROR: (kumo.projects.create) ALREADY_EXISTS: Requested entity already exists\n"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(
        fake.find("POST", "/v3/projects").json(),
        json!({"projectId": "other-project", "displayName": "other-project", "parent": "organizations/1234"})
    );
}

#[test]
fn service_account_binding_and_key_file() {
    let fake = Fake::start();
    let sa = "/v1/projects/-/serviceAccounts/runner@demo-project.iam.gserviceaccount.com";
    fake.on(
        "POST",
        &format!("{sa}:getIamPolicy"),
        vec![ok(json!({"etag": "BwA="}))],
    );
    fake.on(
        "POST",
        &format!("{sa}:setIamPolicy"),
        vec![ok(json!({"etag": "BwB="}))],
    );
    let o = Cli::new(&fake).run(
        "iam service-accounts add-iam-policy-binding runner@demo-project.iam.gserviceaccount.com \
         --member user:alice@example.com --role roles/iam.serviceAccountTokenCreator",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Updated IAM policy for serviceAccount [runner@demo-project.iam.gserviceaccount.com].\n"
    );

    let key_file = json!({"type": "service_account", "client_email": "runner@demo-project.iam.gserviceaccount.com"}).to_string();
    fake.on(
        "POST",
        &format!("{sa}/keys"),
        vec![ok(json!({
            "name": "projects/demo-project/serviceAccounts/runner@demo-project.iam.gserviceaccount.com/keys/abc123",
            "privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE",
            "privateKeyData": base64::engine::general_purpose::STANDARD.encode(&key_file)
        }))],
    );
    let cli = Cli::new(&fake);
    let out = cli.env.config_dir.join("key.json");
    let o = cli.run(&format!("iam service-accounts keys create {} --iam-account runner@demo-project.iam.gserviceaccount.com", out.display()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "created key [abc123] of type [json] as [{}] for [runner@demo-project.iam.gserviceaccount.com]\n",
            out.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), key_file);
    assert_eq!(
        fake.find("POST", &format!("{sa}/keys")).json(),
        json!({"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "keyAlgorithm": "KEY_ALG_RSA_2048"})
    );
}

#[test]
fn custom_roles() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v1/projects/demo-project/roles",
        vec![ok(
            json!({"name": "projects/demo-project/roles/invoker", "title": "Invoker"}),
        )],
    );
    let o = Cli::new(&fake).run("iam roles create invoker --project demo-project --title Invoker --permissions run.routes.invoke,run.services.get");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.find("POST", "/v1/projects/demo-project/roles").json(),
        json!({"roleId": "invoker", "role": {"title": "Invoker", "includedPermissions": ["run.routes.invoke", "run.services.get"], "stage": "ALPHA"}})
    );
    let role = "/v1/projects/demo-project/roles/invoker";
    fake.on("GET", role, vec![ok(json!({"name": "projects/demo-project/roles/invoker", "includedPermissions": ["run.routes.invoke", "run.services.get"], "etag": "x"}))]);
    fake.on("PATCH", role, vec![ok(json!({}))]);
    let o = Cli::new(&fake).run("iam roles update invoker --project demo-project --remove-permissions run.services.get --add-permissions run.services.list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let patch = fake.find("PATCH", role);
    assert_eq!(
        patch.target,
        format!("{role}?updateMask=includedPermissions")
    );
    assert_eq!(
        patch.json()["includedPermissions"],
        json!(["run.routes.invoke", "run.services.list"])
    );
    let o = Cli::new(&fake).run("iam roles describe invoker");
    assert_eq!(o.code, 2);
}

#[test]
fn troubleshoot_explains_in_words() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v3/iam:troubleshoot",
        vec![ok(json!({
            "overallAccessState": "CAN_ACCESS",
            "allowPolicyExplanation": {"allowAccessState": "ALLOW_ACCESS_STATE_GRANTED", "explainedPolicies": [
                {"allowAccessState": "ALLOW_ACCESS_STATE_GRANTED",
                 "fullResourceName": "//run.googleapis.com/projects/demo-project/locations/asia-northeast1/services/hello",
                 "bindingExplanations": [{
                    "allowAccessState": "ALLOW_ACCESS_STATE_GRANTED", "role": "roles/run.invoker",
                    "rolePermission": "ROLE_PERMISSION_INCLUDED",
                    "combinedMembership": {"membership": "MEMBERSHIP_MATCHED"},
                    "memberships": {"group:devs@example.com": {"membership": "MEMBERSHIP_MATCHED"}, "user:x@example.com": {"membership": "MEMBERSHIP_NOT_MATCHED"}}}]},
                {"allowAccessState": "ALLOW_ACCESS_STATE_NOT_GRANTED",
                 "fullResourceName": "//cloudresourcemanager.googleapis.com/projects/demo-project",
                 "bindingExplanations": [{
                    "allowAccessState": "ALLOW_ACCESS_STATE_NOT_GRANTED", "role": "roles/owner",
                    "rolePermission": "ROLE_PERMISSION_INCLUDED",
                    "combinedMembership": {"membership": "MEMBERSHIP_NOT_MATCHED"}}]}
            ]}
        }))],
    );
    let resource =
        "//run.googleapis.com/projects/demo-project/locations/asia-northeast1/services/hello";
    let o = Cli::new(&fake).run(&format!("iam troubleshoot {resource} --principal-email carol@example.com --permission run.routes.invoke"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!(
            "carol@example.com HAS permission run.routes.invoke on {resource}.\n\n\
             Allow policies checked (resource first, then its ancestors):\n\n  \
             {resource}: grants access\n    \
             ✔ roles/run.invoker: includes the permission; the principal is a member (via group:devs@example.com)\n\n  \
             //cloudresourcemanager.googleapis.com/projects/demo-project: does not grant access\n    \
             - roles/owner: includes the permission; the principal is not a member\n"
        )
    );
    assert_eq!(
        fake.find("POST", "/v3/iam:troubleshoot").json(),
        json!({"accessTuple": {"principal": "carol@example.com", "fullResourceName": resource, "permission": "run.routes.invoke"}})
    );
}

#[test]
fn org_policies_v1_and_v2() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v1/projects/sa-project:setOrgPolicy",
        vec![ok(json!({"constraint": "constraints/iam.disableCrossProjectServiceAccountUsage", "booleanPolicy": {}, "etag": "BwA="}))],
    );
    let o = Cli::new(&fake).run("resource-manager org-policies disable-enforce iam.disableCrossProjectServiceAccountUsage --project=sa-project");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.find("POST", "/v1/projects/sa-project:setOrgPolicy")
            .json(),
        json!({"policy": {"constraint": "constraints/iam.disableCrossProjectServiceAccountUsage", "booleanPolicy": {"enforced": false}}})
    );
    assert_eq!(
        o.stdout,
        "booleanPolicy: {}\nconstraint: constraints/iam.disableCrossProjectServiceAccountUsage\netag: BwA=\n"
    );

    let o = Cli::new(&fake).run("resource-manager org-policies enable-enforce run.managed.requireInvokerIam --organization 1234 --project p");
    assert_eq!(o.code, 2);

    let cli = Cli::new(&fake);
    let file = cli.env.config_dir.join("policy.yaml");
    std::fs::write(&file, "name: projects/demo-project/policies/run.managed.requireInvokerIam\nspec:\n  rules:\n  - enforce: true\n").unwrap();
    let name = "/v2/projects/demo-project/policies/run.managed.requireInvokerIam";
    fake.on("PATCH", name, vec![err(404, "NOT_FOUND", "no policy")]);
    fake.on(
        "POST",
        "/v2/projects/demo-project/policies",
        vec![ok(
            json!({"name": "projects/demo-project/policies/run.managed.requireInvokerIam"}),
        )],
    );
    let o = cli.run(&format!("org-policies set-policy {}", file.display()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.lines()[1..],
        [
            format!("PATCH {name}"),
            "POST /v2/projects/demo-project/policies".to_owned()
        ]
    );
    assert_eq!(
        fake.find("POST", "/v2/projects/demo-project/policies")
            .json(),
        json!({"name": "projects/demo-project/policies/run.managed.requireInvokerIam", "spec": {"rules": [{"enforce": true}]}})
    );
    fake.on(
        "GET",
        &format!("{name}:getEffectivePolicy"),
        vec![ok(
            json!({"name": "x", "spec": {"rules": [{"enforce": true}]}}),
        )],
    );
    let o = cli.run("org-policies describe run.managed.requireInvokerIam --effective --format 'value(spec.rules[0].enforce)'");
    assert_eq!(o.stdout, "True\n", "{}", o.stderr);
}

#[test]
fn logging_read_seed_001_query() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v2/entries:list",
        vec![ok(json!({"entries": [{"logName": "projects/demo-project/logs/x", "severity": "ERROR", "textPayload": "User does not have access to image"}]}))],
    );
    let o = Cli::new(&fake).run(
        "logging read 'resource.type = \"cloud_run_revision\" severity=ERROR \"User does not have access to image\"' --limit 10 --freshness 2h --format json",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let body = fake.find("POST", "/v2/entries:list").json();
    assert_eq!(body["resourceNames"], json!(["projects/demo-project"]));
    assert_eq!(body["orderBy"], "timestamp desc");
    assert_eq!(body["pageSize"], 10);
    let filter = body["filter"].as_str().unwrap();
    assert!(
        filter.starts_with("(resource.type = \"cloud_run_revision\" severity=ERROR \"User does not have access to image\") AND timestamp>=\""),
        "{filter}"
    );
    let entries: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(entries[0]["severity"], "ERROR");
}

#[test]
fn directory_users_groups_memberships() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/admin/directory/v1/users",
        vec![ok(json!({"primaryEmail": "dave@example.com"}))],
    );
    let o =
        Cli::new(&fake).run("identity users create dave@example.com --password s3cret-Passw0rd");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "Created user [dave@example.com].\n");
    assert_eq!(
        fake.find("POST", "/admin/directory/v1/users").json(),
        json!({"primaryEmail": "dave@example.com", "name": {"givenName": "dave", "familyName": "dave"}, "password": "s3cret-Passw0rd"})
    );

    fake.on("POST", "/v1/organizations:search", vec![ok(json!({"organizations": [{"name": "organizations/1234", "owner": {"directoryCustomerId": "C0abc123"}}]}))]);
    fake.on("POST", "/v1/groups", vec![ok(json!({"done": true, "response": {"name": "groups/g1", "groupKey": {"id": "devs@example.com"}}}))]);
    let o = Cli::new(&fake).run("identity groups create devs@example.com");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let create = fake.find("POST", "/v1/groups");
    assert_eq!(create.target, "/v1/groups?initialGroupConfig=EMPTY");
    assert_eq!(
        create.json(),
        json!({"groupKey": {"id": "devs@example.com"}, "parent": "customers/C0abc123", "displayName": "devs@example.com",
               "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""}})
    );

    fake.on(
        "GET",
        "/v1/groups:lookup",
        vec![ok(json!({"name": "groups/g1"}))],
    );
    fake.on(
        "POST",
        "/v1/groups/g1/memberships",
        vec![ok(
            json!({"done": true, "response": {"name": "groups/g1/memberships/m1"}}),
        )],
    );
    let o = Cli::new(&fake).run("identity groups memberships add --group-email devs@example.com --member-email carol@example.com");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.find("GET", "/v1/groups:lookup").target,
        "/v1/groups:lookup?groupKey.id=devs%40example.com"
    );
    assert_eq!(
        fake.find("POST", "/v1/groups/g1/memberships").json(),
        json!({"preferredMemberKey": {"id": "carol@example.com"}, "roles": [{"name": "MEMBER"}]})
    );
    assert_eq!(o.stdout, "name: groups/g1/memberships/m1\n");

    fake.on(
        "POST",
        "/kumo/v1/organizations",
        vec![ok(
            json!({"name": "organizations/5678", "displayName": "other.example"}),
        )],
    );
    let o = Cli::new(&fake).run("organizations create --domain other.example");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Created organization [organizations/5678] for domain [other.example].\n"
    );
    assert_eq!(
        fake.find("POST", "/kumo/v1/organizations").json(),
        json!({"domain": "other.example"})
    );
}

#[test]
fn artifact_registry_repositories() {
    let fake = Fake::start();
    fake.on("POST", "/v1/projects/demo-project/locations/asia-northeast1/repositories", vec![ok(json!({"name": "projects/demo-project/locations/asia-northeast1/operations/o1", "done": true, "response": {}}))]);
    let o = Cli::new(&fake).run("artifacts repositories create docker-repo --repository-format=docker --location=asia-northeast1");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Create request issued for: [docker-repo]\n\
         Waiting for operation [projects/demo-project/locations/asia-northeast1/operations/o1] to complete...done.\n\
         Created repository [docker-repo].\n"
    );
    let req = fake.find(
        "POST",
        "/v1/projects/demo-project/locations/asia-northeast1/repositories",
    );
    assert_eq!(
        req.target,
        "/v1/projects/demo-project/locations/asia-northeast1/repositories?repositoryId=docker-repo"
    );
    assert_eq!(req.json(), json!({"format": "DOCKER"}));

    let repo = "/v1/projects/demo-project/locations/asia-northeast1/repositories/docker-repo";
    fake.on("GET", &format!("{repo}:getIamPolicy"), vec![ok(json!({}))]);
    fake.on("POST", &format!("{repo}:setIamPolicy"), vec![ok(json!({}))]);
    let o = Cli::new(&fake).run("artifacts repositories add-iam-policy-binding docker-repo --location asia-northeast1 --member user:bob@example.com --role roles/artifactregistry.reader");
    assert_eq!(o.code, 0, "{}", o.stderr);

    fake.on(
        "GET",
        &format!("{repo}/dockerImages"),
        vec![ok(json!({"dockerImages": [{"uri": "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/app@sha256:abc", "tags": ["latest"], "uploadTime": "t1", "updateTime": "t2"}]}))],
    );
    let o = Cli::new(&fake).run(
        "artifacts docker images list asia-northeast1-docker.pkg.dev/demo-project/docker-repo",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Listing items under project demo-project, location asia-northeast1, repository docker-repo.\n\n"
    );
    assert_eq!(
        o.stdout,
        "IMAGE                                                        DIGEST      CREATE_TIME  UPDATE_TIME  SIZE\n\
         asia-northeast1-docker.pkg.dev/demo-project/docker-repo/app  sha256:abc  t1           t2\n"
    );
    // Tags only with --include-tags, as gcloud shows them.
    let o = Cli::new(&fake).run(
        "artifacts docker images list asia-northeast1-docker.pkg.dev/demo-project/docker-repo --include-tags",
    );
    assert_eq!(
        o.stdout,
        "IMAGE                                                        DIGEST      TAGS    CREATE_TIME  UPDATE_TIME  SIZE\n\
         asia-northeast1-docker.pkg.dev/demo-project/docker-repo/app  sha256:abc  latest  t1           t2\n"
    );
}

#[test]
fn projects_and_organizations_lists() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/v3/projects:search",
        vec![ok(json!({"projects": [{"name": "projects/123456789012", "projectId": "demo-project", "displayName": "Demo"}], "nextPageToken": "p2"})),
             ok(json!({"projects": [{"name": "projects/42", "projectId": "other", "displayName": "Other"}]}))],
    );
    let o = Cli::new(&fake).run("projects list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "PROJECT_ID    NAME   PROJECT_NUMBER\ndemo-project  Demo   123456789012\nother         Other  42\n"
    );
    assert_eq!(
        fake.requests()[1].target,
        "/v3/projects:search?pageToken=p2"
    );
    fake.on(
        "POST",
        "/v1/organizations:search",
        vec![ok(json!({"organizations": [{"name": "organizations/1234", "displayName": "example.com", "owner": {"directoryCustomerId": "C0abc123"}}]}))],
    );
    let o = Cli::new(&fake).run("organizations list");
    assert_eq!(
        o.stdout,
        "DISPLAY_NAME  ID    DIRECTORY_CUSTOMER_ID\nexample.com   1234  C0abc123\n"
    );
}

#[test]
fn troubleshoot_resource_defaults() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v3/iam:troubleshoot",
        vec![ok(json!({"overallAccessState": "CANNOT_ACCESS"}))],
    );
    let cli = Cli::new(&fake);
    let o = cli.run("iam troubleshoot --principal user:bob@example.com --permission run.routes.invoke --service hello");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o2 = cli.run("iam troubleshoot --principal-email bob@example.com --permission resourcemanager.projects.get");
    assert_eq!(o2.code, 0, "{}", o2.stderr);
    let sent: Vec<serde_json::Value> = fake
        .requests()
        .iter()
        .map(|r| r.json()["accessTuple"].clone())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"principal": "bob@example.com", "permission": "run.routes.invoke",
                   "fullResourceName": "//run.googleapis.com/projects/demo-project/locations/asia-northeast1/services/hello"}),
            json!({"principal": "bob@example.com", "permission": "resourcemanager.projects.get",
                   "fullResourceName": "//cloudresourcemanager.googleapis.com/projects/demo-project"}),
        ]
    );
}

#[test]
fn troubleshoot_refusal_names_the_roles_to_grant() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v3/iam:troubleshoot",
        vec![ok(json!({
            "overallAccessState": "CANNOT_ACCESS",
            "allowPolicyExplanation": {"allowAccessState": "ALLOW_ACCESS_STATE_NOT_GRANTED", "explainedPolicies": []},
            "suggestedRoles": ["roles/run.invoker", "roles/run.servicesInvoker", "roles/run.admin"]
        }))],
    );
    let o = Cli::new(&fake).run(
        "iam troubleshoot --service hello --principal-email bob@example.com --permission run.routes.invoke",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "bob@example.com DOES NOT HAVE permission run.routes.invoke on //run.googleapis.com/projects/demo-project/locations/asia-northeast1/services/hello.\n\n\
         No allow policy on the resource or its ancestors grants anything relevant.\n\n\
         To give bob@example.com this permission, grant one of these roles (smallest first) on the resource or one of its ancestors:\n  \
         roles/run.invoker\n  roles/run.servicesInvoker\n  roles/run.admin\n\
         For example:\n  \
         $ kumo run services add-iam-policy-binding hello --project=demo-project --region=asia-northeast1 --member=user:bob@example.com --role=roles/run.invoker\n"
    );

    // A service account on a project, through gcloud's spelling of the command.
    let o = Cli::new(&fake).run(
        "gcloud policy-intelligence troubleshoot-policy iam //cloudresourcemanager.googleapis.com/projects/demo-project --principal-email ci@demo-project.iam.gserviceaccount.com --permission run.routes.invoke",
    );
    assert!(
        o.stdout.ends_with("  $ gcloud projects add-iam-policy-binding demo-project --member=serviceAccount:ci@demo-project.iam.gserviceaccount.com --role=roles/run.invoker\n"),
        "{}",
        o.stdout
    );
}

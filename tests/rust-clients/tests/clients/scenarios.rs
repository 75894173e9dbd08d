//! The scenarios. Every client is built exactly as a user would build it against Google, with only
//! `.with_endpoint(KUMO)` and real credentials (the bootstrap administrator's `authorized_user` file,
//! or a service-account key file Kumo's IAM API issued) changed.

use std::collections::BTreeSet;

use anyhow::{Context, anyhow, bail, ensure};
use google_cloud_auth::credentials::idtoken;
use google_cloud_auth::credentials::{Credentials, impersonated, service_account, user_account};
use google_cloud_gax::error::Error;
use google_cloud_gax::error::rpc::{Code, StatusDetails};
use google_cloud_iam_admin_v1::client::Iam;
use google_cloud_iam_credentials_v1::client::IAMCredentials;
use google_cloud_iam_v1::model::{Binding, Policy};
use google_cloud_lro::Poller;
use google_cloud_resourcemanager_v3::client::Projects;
use google_cloud_run_v2::client::{Executions, Jobs, Services};
use google_cloud_run_v2::model::{
    Container, EnvVar, ExecutionTemplate, Job, RevisionTemplate, Service, TaskTemplate, condition,
};
use serde_json::{Value, json};

use crate::Scenario;
use crate::kumo::Kumo;

const PROJECT: &str = "demo-project";
const PARENT: &str = "projects/demo-project/locations/us-central1";
const HELLO: &str = "us-docker.pkg.dev/cloudrun/container/hello";
const JOB: &str = "us-docker.pkg.dev/cloudrun/container/job";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
const RUNNER: &str = "rust-runner";
const NOBODY: &str = "rust-nobody";
const AUDIENCE: &str = "https://rust-clients.example.com";
/// An image (in Kumo's image map) that writes its metadata server's address to the data dir, then
/// serves as the hello sample: how a test reaches a workload's metadata server.
const MDS_PROBE: &str = "example.com/rust-clients/mds-probe";

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        pub const ALL: &[(&str, Scenario)] = &[$((stringify!($name), |w| Box::pin($name(w)))),*];
    };
}

scenarios![
    run_service_lifecycle_through_lro_pollers,
    run_service_iam_policy_etag_round_trip,
    run_errors_not_found_and_stale_etag,
    run_job_runs_an_execution,
    service_account_key_self_signed_jwt_is_authenticated_and_authorized,
    resource_manager_project_and_iam_policy,
    iam_admin_service_accounts_and_keys,
    iam_credentials_generate_tokens_needs_token_creator,
    auth_impersonated_credentials_through_kumo,
    auth_user_account_id_token,
    auth_id_token_verifier_with_kumo_jwks,
    auth_metadata_server_of_a_workload,
];

/// Kumo (`--demo`: organization example.com, project demo-project, a private `hello` service),
/// the clients as the administrator, and a service account with a key file made through IAM.
pub struct World {
    pub kumo: Kumo,
    admin_info: Value,
    admin: Credentials,
    /// `rust-runner@demo-project.iam.gserviceaccount.com`: no role anywhere until a scenario grants one.
    runner_email: String,
    runner_key: Value,
    /// The key file of `rust-nobody@…`, which is never granted anything.
    nobody_key: Value,
}

/// A new key of the account `name`, as the key file `keys.create` hands out.
async fn new_key(iam: &Iam, name: &str) -> anyhow::Result<Value> {
    let key = iam
        .create_service_account_key()
        .set_name(name)
        .send()
        .await
        .with_context(|| format!("creating a key of {name}"))?;
    // privateKeyData is base64 on the wire; the client hands back the decoded key file.
    serde_json::from_slice(&key.private_key_data).context("key file JSON")
}

impl World {
    pub async fn set_up() -> anyhow::Result<World> {
        let images = json!({"images": {MDS_PROBE: {"entrypoint": [
            "sh", "-c",
            "printf %s \"$GCE_METADATA_HOST\" > '{DATA_DIR}'/mds-host-\"$K_REVISION\"; exec '{KUMO_BIN}' __sample hello"
        ]}}});
        let kumo = Kumo::start_with_images(&["--demo"], Some(&images.to_string()))?;
        let admin_info = kumo.admin_credentials()?;
        ensure!(
            admin_info["type"] == "authorized_user",
            "admin credentials: {admin_info}"
        );
        ensure!(
            admin_info["token_uri"] == format!("{}/token", kumo.base_url),
            "token_uri: {admin_info}"
        );
        // The file as Kumo wrote it: google-cloud-auth honours its token_uri.
        let admin = user_account::Builder::new(admin_info.clone()).build()?;
        let iam = iam_client(&kumo, admin.clone()).await?;
        let account = iam
            .create_service_account()
            .set_name(format!("projects/{PROJECT}"))
            .set_account_id(RUNNER)
            .set_service_account(
                google_cloud_iam_admin_v1::model::ServiceAccount::new()
                    .set_display_name("Rust runner"),
            )
            .send()
            .await
            .context("creating the service account")?;
        let runner_key = new_key(&iam, &account.name).await?;
        let nobody = iam
            .create_service_account()
            .set_name(format!("projects/{PROJECT}"))
            .set_account_id(NOBODY)
            .send()
            .await
            .context("creating the unprivileged service account")?;
        let nobody_key = new_key(&iam, &nobody.name).await?;
        Ok(World {
            admin_info,
            admin,
            runner_email: account.email,
            runner_key,
            nobody_key,
            kumo,
        })
    }

    pub fn tear_down(self) {
        drop(self.kumo);
    }

    fn runner(&self) -> anyhow::Result<Credentials> {
        // A key file's access tokens are self-signed JWTs (scope cloud-platform): no token endpoint.
        Ok(service_account::Builder::new(self.runner_key.clone()).build()?)
    }

    async fn services(&self, credentials: Credentials) -> anyhow::Result<Services> {
        Ok(Services::builder()
            .with_endpoint(&self.kumo.base_url)
            .with_credentials(credentials)
            .build()
            .await?)
    }

    async fn projects(&self) -> anyhow::Result<Projects> {
        Ok(Projects::builder()
            .with_endpoint(&self.kumo.base_url)
            .with_credentials(self.admin.clone())
            .build()
            .await?)
    }

    /// Grants `role` to `member` on demo-project through Resource Manager (read-modify-write).
    async fn grant_on_project(&self, role: &str, member: &str) -> anyhow::Result<()> {
        let projects = self.projects().await?;
        let resource = format!("projects/{PROJECT}");
        let mut policy = projects
            .get_iam_policy()
            .set_resource(&resource)
            .send()
            .await?;
        add_member(&mut policy, role, member);
        projects
            .set_iam_policy()
            .set_resource(&resource)
            .set_policy(policy)
            .send()
            .await?;
        Ok(())
    }

    /// Grants `role` to `member` on the runner service account through IAM admin.
    async fn grant_on_runner(&self, role: &str, member: &str) -> anyhow::Result<()> {
        let iam = iam_client(&self.kumo, self.admin.clone()).await?;
        let resource = format!("projects/{PROJECT}/serviceAccounts/{}", self.runner_email);
        let mut policy = iam.get_iam_policy().set_resource(&resource).send().await?;
        add_member(&mut policy, role, member);
        iam.set_iam_policy()
            .set_resource(&resource)
            .set_policy(policy)
            .send()
            .await?;
        Ok(())
    }
}

async fn iam_client(kumo: &Kumo, credentials: Credentials) -> anyhow::Result<Iam> {
    Ok(Iam::builder()
        .with_endpoint(&kumo.base_url)
        .with_credentials(credentials)
        .build()
        .await?)
}

async fn iam_credentials_client(
    kumo: &Kumo,
    credentials: Credentials,
) -> anyhow::Result<IAMCredentials> {
    Ok(IAMCredentials::builder()
        .with_endpoint(&kumo.base_url)
        .with_credentials(credentials)
        .build()
        .await?)
}

fn add_member(policy: &mut Policy, role: &str, member: &str) {
    match policy
        .bindings
        .iter_mut()
        .find(|b| b.role == role && b.condition.is_none())
    {
        Some(binding) if binding.members.iter().any(|m| m == member) => {}
        Some(binding) => binding.members.push(member.to_owned()),
        None => policy
            .bindings
            .push(Binding::new().set_role(role).set_members([member])),
    }
}

fn hello_service() -> Service {
    Service::new()
        .set_template(RevisionTemplate::new().set_containers([Container::new().set_image(HELLO)]))
}

/// The error a call must have failed with: its canonical code (which the Rust client takes from the
/// body's `status` string) and its HTTP status.
fn expect_error<T: std::fmt::Debug>(
    result: Result<T, Error>,
    code: Code,
    http: Option<u16>,
) -> anyhow::Result<Error> {
    let error = match result {
        Ok(value) => bail!("expected {code:?}, got success: {value:?}"),
        Err(error) => error,
    };
    let status = error
        .status()
        .ok_or_else(|| anyhow!("not a service error: {error:?}"))?;
    ensure!(
        status.code == code,
        "expected {code:?}, got {:?}: {error}",
        status.code
    );
    ensure!(
        error.http_status_code() == http,
        "HTTP status {:?}, expected {http:?}",
        error.http_status_code()
    );
    Ok(error)
}

fn error_info(error: &Error) -> Option<&google_cloud_rpc::model::ErrorInfo> {
    error.status()?.details.iter().find_map(|d| match d {
        StatusDetails::ErrorInfo(info) => Some(info),
        _ => None,
    })
}

async fn run_service_lifecycle_through_lro_pollers(w: &World) -> anyhow::Result<()> {
    let services = w.services(w.admin.clone()).await?;
    let created = services
        .create_service()
        .set_parent(PARENT)
        .set_service_id("rust-svc")
        .set_service(hello_service())
        .poller()
        .until_done()
        .await?;
    ensure!(
        created.name == format!("{PARENT}/services/rust-svc"),
        "name {}",
        created.name
    );
    ensure!(
        !created.uri.is_empty() && !created.urls.is_empty(),
        "uri {:?} urls {:?}",
        created.uri,
        created.urls
    );
    ensure!(
        created.latest_ready_revision.starts_with(&format!(
            "{PARENT}/services/rust-svc/revisions/rust-svc-00001-"
        )),
        "revision {}",
        created.latest_ready_revision
    );
    let state = created.terminal_condition.as_ref().map(|c| c.state.clone());
    ensure!(
        state == Some(condition::State::ConditionSucceeded),
        "terminal condition {state:?}"
    );
    ensure!(
        created.creator == "admin@example.com",
        "creator {}",
        created.creator
    );

    let got = services
        .get_service()
        .set_name(&created.name)
        .send()
        .await?;
    ensure!(
        got.uid == created.uid && !got.etag.is_empty(),
        "get: uid {} etag {:?}",
        got.uid,
        got.etag
    );

    let listed = services.list_services().set_parent(PARENT).send().await?;
    let names: BTreeSet<_> = listed.services.iter().map(|s| s.name.as_str()).collect();
    ensure!(
        names.contains(created.name.as_str())
            && names.contains(format!("{PARENT}/services/hello").as_str()),
        "listed {names:?}"
    );

    // Update sends the whole Service back (output-only fields included), as the client does.
    let mut changed = got.clone();
    changed.labels.insert("team".into(), "rust".into());
    if let Some(template) = changed.template.as_mut() {
        template.containers[0]
            .env
            .push(EnvVar::new().set_name("GREETING").set_value("hi"));
    }
    let updated = services
        .update_service()
        .set_service(changed)
        .poller()
        .until_done()
        .await?;
    ensure!(
        updated.labels.get("team").map(String::as_str) == Some("rust"),
        "labels {:?}",
        updated.labels
    );
    ensure!(
        updated.generation == got.generation + 1,
        "generation {} after {}",
        updated.generation,
        got.generation
    );
    ensure!(
        updated.latest_ready_revision.starts_with(&format!(
            "{PARENT}/services/rust-svc/revisions/rust-svc-00002-"
        )),
        "revision {}",
        updated.latest_ready_revision
    );

    let deleted = services
        .delete_service()
        .set_name(&created.name)
        .poller()
        .until_done()
        .await?;
    ensure!(deleted.name == created.name, "deleted {}", deleted.name);
    expect_error(
        services.get_service().set_name(&created.name).send().await,
        Code::NotFound,
        Some(404),
    )?;
    Ok(())
}

async fn run_service_iam_policy_etag_round_trip(w: &World) -> anyhow::Result<()> {
    let services = w.services(w.admin.clone()).await?;
    let resource = format!("{PARENT}/services/hello");
    let policy = services
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await?;
    ensure!(!policy.etag.is_empty(), "no etag");
    let mut changed = policy.clone();
    let member = format!("serviceAccount:{}", w.runner_email);
    add_member(&mut changed, "roles/run.invoker", &member);
    let updated = services
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(changed)
        .send()
        .await?;
    ensure!(updated.etag != policy.etag, "etag did not change");
    ensure!(
        updated
            .bindings
            .iter()
            .any(|b| b.role == "roles/run.invoker" && b.members.contains(&member)),
        "bindings {:?}",
        updated.bindings
    );
    // The etag Kumo sent round-trips byte-exact through the client's bytes field.
    let again = services
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await?;
    ensure!(
        again.etag == updated.etag,
        "etag {:?} then {:?}",
        updated.etag,
        again.etag
    );

    // The runner may now invoke, and only invoke.
    let as_runner = w.services(w.runner()?).await?;
    let allowed = as_runner
        .test_iam_permissions()
        .set_resource(&resource)
        .set_permissions([
            "run.routes.invoke",
            "run.services.get",
            "run.services.delete",
        ])
        .send()
        .await?;
    ensure!(
        allowed.permissions == ["run.routes.invoke"],
        "allowed {:?}",
        allowed.permissions
    );
    Ok(())
}

async fn run_errors_not_found_and_stale_etag(w: &World) -> anyhow::Result<()> {
    let services = w.services(w.admin.clone()).await?;
    let missing = expect_error(
        services
            .get_service()
            .set_name(format!("{PARENT}/services/nothing-here"))
            .send()
            .await,
        Code::NotFound,
        Some(404),
    )?;
    ensure!(
        missing
            .status()
            .is_some_and(|s| s.message.contains("nothing-here")),
        "message: {missing}"
    );

    let resource = format!("{PARENT}/services/hello");
    let stale = services
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await?;
    let mut first = stale.clone();
    add_member(&mut first, "roles/run.invoker", "user:bob@example.com");
    services
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(first)
        .send()
        .await?;
    // A write based on the old etag lost the race: ABORTED (HTTP 409).
    let mut second = stale;
    add_member(&mut second, "roles/run.invoker", "user:carol@example.com");
    expect_error(
        services
            .set_iam_policy()
            .set_resource(&resource)
            .set_policy(second)
            .send()
            .await,
        Code::Aborted,
        Some(409),
    )?;
    // Creating what exists: ALREADY_EXISTS (409), before any operation starts.
    expect_error(
        services
            .create_service()
            .set_parent(PARENT)
            .set_service_id("hello")
            .set_service(hello_service())
            .send()
            .await,
        Code::AlreadyExists,
        Some(409),
    )?;
    Ok(())
}

async fn run_job_runs_an_execution(w: &World) -> anyhow::Result<()> {
    let jobs = Jobs::builder()
        .with_endpoint(&w.kumo.base_url)
        .with_credentials(w.admin.clone())
        .build()
        .await?;
    let job = Job::new().set_template(
        ExecutionTemplate::new()
            .set_task_count(2)
            .set_template(TaskTemplate::new().set_containers([Container::new().set_image(JOB)])),
    );
    let created = jobs
        .create_job()
        .set_parent(PARENT)
        .set_job_id("rust-job")
        .set_job(job)
        .poller()
        .until_done()
        .await?;
    ensure!(
        created.name == format!("{PARENT}/jobs/rust-job"),
        "job {}",
        created.name
    );
    let execution = jobs
        .run_job()
        .set_name(&created.name)
        .poller()
        .until_done()
        .await?;
    ensure!(
        execution
            .name
            .starts_with(&format!("{}/executions/rust-job-", created.name)),
        "execution {}",
        execution.name
    );
    ensure!(
        execution.succeeded_count == 2 && execution.failed_count == 0,
        "succeeded {} failed {}",
        execution.succeeded_count,
        execution.failed_count
    );
    ensure!(execution.completion_time.is_some(), "no completion time");

    let executions = Executions::builder()
        .with_endpoint(&w.kumo.base_url)
        .with_credentials(w.admin.clone())
        .build()
        .await?;
    let got = executions
        .get_execution()
        .set_name(&execution.name)
        .send()
        .await?;
    ensure!(
        got.succeeded_count == 2,
        "get: succeeded {}",
        got.succeeded_count
    );
    let listed = executions
        .list_executions()
        .set_parent(&created.name)
        .send()
        .await?;
    let names: Vec<_> = listed.executions.iter().map(|e| e.name.as_str()).collect();
    ensure!(names == [execution.name.as_str()], "listed {names:?}");
    Ok(())
}

async fn service_account_key_self_signed_jwt_is_authenticated_and_authorized(
    w: &World,
) -> anyhow::Result<()> {
    let as_nobody = w
        .services(service_account::Builder::new(w.nobody_key.clone()).build()?)
        .await?;
    // Authenticated (not 401) but without a role: PERMISSION_DENIED naming the permission.
    let denied = expect_error(
        as_nobody
            .get_service()
            .set_name(format!("{PARENT}/services/hello"))
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    let message = denied
        .status()
        .map(|s| s.message.clone())
        .unwrap_or_default();
    ensure!(
        message.contains("Permission 'run.services.get' denied on resource"),
        "message {message:?}"
    );
    let info = error_info(&denied).ok_or_else(|| anyhow!("no ErrorInfo in {denied:?}"))?;
    ensure!(
        info.reason == "IAM_PERMISSION_DENIED",
        "reason {}",
        info.reason
    );
    ensure!(
        info.metadata.get("permission").map(String::as_str) == Some("run.services.get"),
        "metadata {:?}",
        info.metadata
    );

    w.grant_on_project(
        "roles/run.viewer",
        &format!("serviceAccount:{}", w.runner_email),
    )
    .await?;
    let as_runner = w.services(w.runner()?).await?;
    let listed = as_runner.list_services().set_parent(PARENT).send().await?;
    ensure!(
        listed
            .services
            .iter()
            .any(|s| s.name == format!("{PARENT}/services/hello")),
        "listed {:?}",
        listed.services.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    expect_error(
        as_runner
            .delete_service()
            .set_name(format!("{PARENT}/services/hello"))
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    Ok(())
}

async fn resource_manager_project_and_iam_policy(w: &World) -> anyhow::Result<()> {
    let projects = w.projects().await?;
    let project = projects
        .get_project()
        .set_name(format!("projects/{PROJECT}"))
        .send()
        .await?;
    ensure!(
        project.project_id == PROJECT,
        "project_id {}",
        project.project_id
    );
    // v3 names projects by number while accepting the id.
    let number = project.name.strip_prefix("projects/").unwrap_or_default();
    ensure!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "name {}",
        project.name
    );
    let by_number = projects
        .get_project()
        .set_name(&project.name)
        .send()
        .await?;
    ensure!(
        by_number.project_id == PROJECT,
        "by number: {}",
        by_number.project_id
    );

    let resource = format!("projects/{PROJECT}");
    let policy = projects
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await?;
    ensure!(!policy.etag.is_empty(), "no etag");
    ensure!(
        policy
            .bindings
            .iter()
            .any(|b| b.role == "roles/owner"
                || b.members.iter().any(|m| m == "user:alice@example.com")),
        "bindings {:?}",
        policy.bindings
    );
    let mut changed = policy.clone();
    add_member(&mut changed, "roles/viewer", "user:bob@example.com");
    let updated = projects
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(changed)
        .send()
        .await?;
    ensure!(updated.etag != policy.etag, "etag unchanged");
    ensure!(
        updated
            .bindings
            .iter()
            .any(|b| b.role == "roles/viewer"
                && b.members.iter().any(|m| m == "user:bob@example.com")),
        "bindings {:?}",
        updated.bindings
    );
    // The old etag is stale now.
    let mut stale = policy;
    add_member(&mut stale, "roles/viewer", "user:carol@example.com");
    expect_error(
        projects
            .set_iam_policy()
            .set_resource(&resource)
            .set_policy(stale)
            .send()
            .await,
        Code::Aborted,
        Some(409),
    )?;
    expect_error(
        projects
            .get_project()
            .set_name("projects/no-such-project-7")
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    Ok(())
}

async fn iam_admin_service_accounts_and_keys(w: &World) -> anyhow::Result<()> {
    ensure!(
        w.runner_email == format!("{RUNNER}@{PROJECT}.iam.gserviceaccount.com"),
        "email {}",
        w.runner_email
    );
    let key = &w.runner_key;
    ensure!(
        key["type"] == "service_account" && key["client_email"] == w.runner_email.as_str(),
        "key {key}"
    );
    ensure!(
        key["token_uri"] == format!("{}/token", w.kumo.base_url),
        "token_uri {}",
        key["token_uri"]
    );

    let iam = iam_client(&w.kumo, w.admin.clone()).await?;
    let listed = iam
        .list_service_accounts()
        .set_name(format!("projects/{PROJECT}"))
        .send()
        .await?;
    let emails: BTreeSet<_> = listed.accounts.iter().map(|a| a.email.as_str()).collect();
    ensure!(
        emails.contains(w.runner_email.as_str()),
        "listed {emails:?}"
    );

    let name = format!("projects/{PROJECT}/serviceAccounts/{}", w.runner_email);
    let got = iam.get_service_account().set_name(&name).send().await?;
    ensure!(
        got.display_name == "Rust runner",
        "display name {}",
        got.display_name
    );
    let keys = iam
        .list_service_account_keys()
        .set_name(&name)
        .send()
        .await?;
    let key_id = key["private_key_id"].as_str().unwrap_or_default();
    ensure!(
        keys.keys
            .iter()
            .any(|k| k.name.ends_with(&format!("/keys/{key_id}"))),
        "keys {:?}",
        keys.keys.iter().map(|k| &k.name).collect::<Vec<_>>()
    );
    expect_error(
        iam.get_service_account()
            .set_name(format!(
                "projects/{PROJECT}/serviceAccounts/nobody@{PROJECT}.iam.gserviceaccount.com"
            ))
            .send()
            .await,
        Code::NotFound,
        Some(404),
    )?;
    expect_error(
        iam.create_service_account()
            .set_name(format!("projects/{PROJECT}"))
            .set_account_id(RUNNER)
            .send()
            .await,
        Code::AlreadyExists,
        Some(409),
    )?;
    Ok(())
}

async fn iam_credentials_generate_tokens_needs_token_creator(w: &World) -> anyhow::Result<()> {
    let client = iam_credentials_client(&w.kumo, w.admin.clone()).await?;
    // The client percent-encodes the `@` of the account in the path.
    let name = format!("projects/-/serviceAccounts/{}", w.runner_email);
    let denied = expect_error(
        client
            .generate_id_token()
            .set_name(&name)
            .set_audience(AUDIENCE)
            .set_include_email(true)
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    ensure!(
        denied
            .to_string()
            .contains("iam.serviceAccounts.getOpenIdToken"),
        "{denied}"
    );

    w.grant_on_runner(
        "roles/iam.serviceAccountTokenCreator",
        "user:admin@example.com",
    )
    .await?;
    let id = client
        .generate_id_token()
        .set_name(&name)
        .set_audience(AUDIENCE)
        .set_include_email(true)
        .send()
        .await?;
    let claims = jwt_claims(&id.token)?;
    ensure!(
        claims["aud"] == AUDIENCE && claims["email"] == w.runner_email.as_str(),
        "claims {claims}"
    );
    let access = client
        .generate_access_token()
        .set_name(&name)
        .set_scope([CLOUD_PLATFORM])
        .set_lifetime(google_cloud_wkt::Duration::clamp(600, 0))
        .send()
        .await?;
    ensure!(
        access.access_token.starts_with("ya29."),
        "token {}",
        access.access_token
    );
    ensure!(access.expire_time.is_some(), "no expire time");
    Ok(())
}

/// `impersonated_service_account` credentials (what `gcloud auth application-default login
/// --impersonate-service-account` writes) whose impersonation URL is Kumo's IAM Credentials API.
fn impersonated_info(w: &World) -> Value {
    json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": format!(
            "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
            w.kumo.base_url, w.runner_email
        ),
        "source_credentials": w.admin_info,
        "delegates": [],
    })
}

async fn auth_impersonated_credentials_through_kumo(w: &World) -> anyhow::Result<()> {
    w.grant_on_runner(
        "roles/iam.serviceAccountTokenCreator",
        "user:admin@example.com",
    )
    .await?;
    w.grant_on_project(
        "roles/run.viewer",
        &format!("serviceAccount:{}", w.runner_email),
    )
    .await?;
    let credentials = impersonated::Builder::new(impersonated_info(w)).build()?;
    let services = w.services(credentials).await?;
    // Kumo sees the runner (a viewer), not the administrator: reading works, deleting is refused.
    services
        .get_service()
        .set_name(format!("{PARENT}/services/hello"))
        .send()
        .await?;
    let denied = expect_error(
        services
            .delete_service()
            .set_name(format!("{PARENT}/services/hello"))
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    ensure!(
        denied.to_string().contains("run.services.delete"),
        "{denied}"
    );

    // The ID-token URL is derived from the same impersonation URL (generateIdToken).
    let id = idtoken::impersonated::Builder::new(AUDIENCE, impersonated_info(w))
        .with_include_email()
        .build()?
        .id_token()
        .await?;
    let claims = jwt_claims(&id)?;
    ensure!(
        claims["aud"] == AUDIENCE && claims["email"] == w.runner_email.as_str(),
        "claims {claims}"
    );
    Ok(())
}

async fn auth_user_account_id_token(w: &World) -> anyhow::Result<()> {
    // The refresh-token grant at the file's token_uri returns an ID token too.
    let token = idtoken::user_account::Builder::new(w.admin_info.clone())
        .build()?
        .id_token()
        .await?;
    let claims = jwt_claims(&token)?;
    ensure!(claims["email"] == "admin@example.com", "claims {claims}");
    ensure!(
        claims["aud"] == w.admin_info["client_id"],
        "aud {} client_id {}",
        claims["aud"],
        w.admin_info["client_id"]
    );
    ensure!(
        claims["iss"] == w.kumo.base_url.as_str(),
        "iss {}",
        claims["iss"]
    );
    Ok(())
}

async fn auth_id_token_verifier_with_kumo_jwks(w: &World) -> anyhow::Result<()> {
    // The verifier accepts only Google's issuers (accounts.google.com): a Kumo started with
    // `--issuer google` mints such tokens while serving its own keys.
    let google = Kumo::start(&["--issuer", "google"])?;
    let admin_info = google.admin_credentials()?;
    let token = idtoken::user_account::Builder::new(admin_info.clone())
        .build()?
        .id_token()
        .await?;
    let audience = admin_info["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let jwks = format!("{}/oauth2/v3/certs", google.base_url);
    let verifier = idtoken::verifier::Builder::new([audience.as_str()])
        .with_jwks_url(&jwks)
        .with_email("admin@example.com")
        .build();
    let claims = verifier
        .verify(&token)
        .await
        .map_err(|e| anyhow!("verify: {e:?}"))?;
    ensure!(
        claims.get("email") == Some(&json!("admin@example.com")),
        "claims {claims:?}"
    );
    ensure!(
        claims.get("iss") == Some(&json!("https://accounts.google.com")),
        "claims {claims:?}"
    );

    // Another audience, a tampered signature, and Kumo's default issuer are refused.
    let other = idtoken::verifier::Builder::new([AUDIENCE])
        .with_jwks_url(&jwks)
        .build();
    let wrong = other.verify(&token).await;
    ensure!(
        wrong.as_ref().is_err_and(|e| e.is_invalid()),
        "other audience: {wrong:?}"
    );
    let tampered = tamper_signature(&token)?;
    let forged = verifier.verify(&tampered).await;
    ensure!(
        forged.as_ref().is_err_and(|e| e.is_invalid()),
        "tampered: {forged:?}"
    );

    let default_issuer = idtoken::user_account::Builder::new(w.admin_info.clone())
        .build()?
        .id_token()
        .await?;
    let kumo_verifier =
        idtoken::verifier::Builder::new([w.admin_info["client_id"].as_str().unwrap_or_default()])
            .with_jwks_url(format!("{}/oauth2/v3/certs", w.kumo.base_url))
            .build();
    let refused = kumo_verifier.verify(&default_issuer).await;
    ensure!(
        refused.as_ref().is_err_and(|e| e.is_invalid()),
        "default issuer: {refused:?}"
    );
    drop(google);
    Ok(())
}

async fn auth_metadata_server_of_a_workload(w: &World) -> anyhow::Result<()> {
    w.grant_on_project(
        "roles/run.viewer",
        &format!("serviceAccount:{}", w.runner_email),
    )
    .await?;
    let services = w.services(w.admin.clone()).await?;
    let template = RevisionTemplate::new()
        .set_service_account(&w.runner_email)
        .set_containers([Container::new().set_image(MDS_PROBE)]);
    let created = services
        .create_service()
        .set_parent(PARENT)
        .set_service_id("rust-mds")
        .set_service(Service::new().set_template(template))
        .poller()
        .until_done()
        .await?;
    let revision = created
        .latest_ready_revision
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let file = w.kumo.data_dir.join(format!("mds-host-{revision}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let host = loop {
        match std::fs::read_to_string(&file) {
            Ok(host) if !host.is_empty() => break host,
            _ if std::time::Instant::now() > deadline => {
                bail!("no instance wrote {}", file.display())
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    };
    let endpoint = format!("http://{host}");

    // What a Rust program inside the workload gets from ADC (GCE_METADATA_HOST → mds::Builder).
    let credentials = google_cloud_auth::credentials::mds::Builder::default()
        .with_endpoint(&endpoint)
        .build()?;
    let as_workload = w.services(credentials).await?;
    as_workload
        .get_service()
        .set_name(format!("{PARENT}/services/hello"))
        .send()
        .await?;
    expect_error(
        as_workload
            .delete_service()
            .set_name(format!("{PARENT}/services/hello"))
            .send()
            .await,
        Code::PermissionDenied,
        Some(403),
    )?;
    let id = idtoken::mds::Builder::new(AUDIENCE)
        .with_endpoint(&endpoint)
        .with_format(idtoken::mds::Format::Full)
        .build()?
        .id_token()
        .await?;
    let claims = jwt_claims(&id)?;
    ensure!(
        claims["aud"] == AUDIENCE && claims["email"] == w.runner_email.as_str(),
        "claims {claims}"
    );

    services
        .delete_service()
        .set_name(&created.name)
        .poller()
        .until_done()
        .await?;
    Ok(())
}

/// The claims of a JWT, unverified (only to look at them; verification is the verifier's job).
fn jwt_claims(token: &str) -> anyhow::Result<Value> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("not a JWT: {token}"))?;
    Ok(serde_json::from_slice(&base64url_decode(payload)?)?)
}

fn base64url_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0_u32, 0);
    for byte in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&c| c == byte)
            .ok_or_else(|| anyhow!("not base64url: {text}"))?;
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Ok(out)
}

/// The token with one signature character changed (a middle one: all six of its bits count).
fn tamper_signature(token: &str) -> anyhow::Result<String> {
    let (signed, signature) = token.rsplit_once('.').ok_or_else(|| anyhow!("not a JWT"))?;
    let mut bytes = signature.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    Ok(format!("{signed}.{}", String::from_utf8(bytes)?))
}

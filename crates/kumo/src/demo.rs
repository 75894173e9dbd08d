//! `kumo up --demo`: a ready world on top of the bootstrap, created through the same control-plane
//! methods a client calls (as the organization's administrator, or as alice for her project), so
//! every refusal rule applies to it too. Idempotent: a second run keeps what exists.

use kumo_control::run::services::{ApplyMode, ApplyService};
use kumo_control::{Call, Caller, Control, Error, NewProject};
use serde_json::json;

/// The demo project.
pub const PROJECT: &str = "demo-project";
/// The demo region.
pub const REGION: &str = "us-central1";

/// Creates the demo world and returns the lines of the "try this" guide.
pub async fn create(control: &Control, domain: &str) -> anyhow::Result<Vec<String>> {
    let admin = Call::new(Caller::User {
        email: format!("admin@{domain}"),
    });
    let alice = format!("alice@{domain}");
    for (email, given, family) in [
        (&alice, "Alice", "Owner"),
        (&format!("bob@{domain}"), "Bob", "Nobody"),
        (&format!("carol@{domain}"), "Carol", "Developer"),
    ] {
        ignore_existing(control.create_user(
            &admin,
            &json!({"primaryEmail": email, "name": {"givenName": given, "familyName": family}}),
        ))?;
    }
    let organization = control
        .organization_for_domain(domain)?
        .ok_or_else(|| anyhow::anyhow!("the bootstrap organization for {domain} is missing"))?;
    let devs = format!("devs@{domain}");
    ignore_existing(control.create_group(
        &admin,
        &json!({
            "groupKey": {"id": devs},
            "parent": format!("customers/{}", organization.customer_id),
            "displayName": "Developers",
            "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""},
        }),
        Some("EMPTY"),
    ))?;
    if let Ok(group) = control.lookup_group(&admin, &devs)
        && let Some(name) = group["name"].as_str()
    {
        let id = name.trim_start_matches("groups/");
        ignore_existing(control.create_membership(
            &admin,
            id,
            &json!({"preferredMemberKey": {"id": format!("carol@{domain}")}, "roles": [{"name": "MEMBER"}]}),
        ))?;
    }
    let project = match control.resolve_project(PROJECT)? {
        Some(project) => project,
        None => control.provision_project(NewProject {
            project_id: PROJECT.to_owned(),
            display_name: "Demo project".to_owned(),
            parent: Some(format!("organizations/{}", organization.id)),
            labels: Default::default(),
            owner: Some(format!("user:{alice}")),
        })?,
    };
    let as_alice = Call::new(Caller::User {
        email: alice.clone(),
    });
    let key = control.service_key(&as_alice, PROJECT, REGION, "hello", "run.services.create")?;
    let service = match control.get_service(&as_alice, &key) {
        Ok(service) => service,
        Err(Error::NotFound { .. }) => {
            let desired: kumo_wire::run_v2::Service = serde_json::from_value(json!({
                "template": {"containers": [{"image": "us-docker.pkg.dev/cloudrun/container/hello"}]}
            }))?;
            let applied = control
                .apply_service(
                    &as_alice,
                    &key,
                    ApplyService {
                        desired,
                        mode: ApplyMode::Create,
                        validate_only: false,
                        method_name: "google.cloud.run.v2.Services.CreateService",
                    },
                )
                .await?;
            if let Some(error) = applied.deploy_error {
                return Err(error.into());
            }
            applied.service
        }
        Err(other) => return Err(other.into()),
    };
    let url = service.uri.clone();
    let api = control.config().external_url.clone();
    Ok(vec![
        format!(
            "Demo: organization {domain}, project {PROJECT} (number {}), region {REGION}.",
            project.number
        ),
        format!(
            "Users: {alice} (project owner), bob@{domain} (no roles), carol@{domain} (in {devs})."
        ),
        format!("A private service `hello` is at {url}"),
        format!("Console: {api}/console/ (sign in as {alice})"),
        String::new(),
        "Try this:".to_owned(),
        format!("  export KUMO_ENDPOINT={api}"),
        format!("  kumo auth login --account {alice}"),
        format!("  kumo config set project {PROJECT}; kumo config set run/region {REGION}"),
        format!("  curl -i {url}                                   # 403: the service is private"),
        format!(
            "  curl -i -H \"Authorization: Bearer $(kumo auth print-identity-token)\" {url}   # 200"
        ),
        format!(
            "  kumo run services add-iam-policy-binding hello --member user:bob@{domain} --role roles/run.invoker"
        ),
        "  kumo run services update hello --no-invoker-iam-check   # public, no token needed"
            .to_owned(),
        format!(
            "  kumo iam troubleshoot --principal bob@{domain} --permission run.routes.invoke --service hello"
        ),
    ])
}

/// Creation that finds the thing already there is success for an idempotent demo.
fn ignore_existing<T>(outcome: Result<T, Error>) -> Result<(), Error> {
    match outcome {
        Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

//! IAP v1, Service Usage (service identities), Artifact Registry v1, Logging v2, and the
//! directory (Admin SDK Directory users, Cloud Identity groups).

use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{
    ArtifactsCmd, DockerCmd, DockerImagesCmd, GroupsCmd, IapCmd, IapResource, IapWebCmd,
    IdentityCmd, LoggingCmd, MembershipsCmd, RepositoriesCmd, ServicesCmd, ServicesIdentityCmd,
    UsersCmd,
};
use crate::cmd::{basename, wait_operation};
use crate::context::{Columns, Ctx, Listing, print_items, s};
use crate::error::{CliError, Result};
use crate::format::Keys;
use crate::http::enc;
use crate::policy::{self, PolicyApi};

/// IAP resources are keyed by the project number, which Resource Manager v3 names
/// (`name: projects/NUMBER`).
fn project_number(ctx: &mut Ctx<'_>, project: &str) -> Result<String> {
    if project.chars().all(|c| c.is_ascii_digit()) {
        return Ok(project.to_owned());
    }
    let p = ctx.get(&format!("/v3/projects/{}", enc(project)))?;
    let n = s(&p, "name")
        .strip_prefix("projects/")
        .unwrap_or_default()
        .to_owned();
    if n.is_empty() {
        return Err(CliError::Msg(format!(
            "Project [{project}] has no projectNumber."
        )));
    }
    Ok(n)
}

/// `projects/PN/iap_web[/cloud_run-REGION[/services/S]]` — note gcloud's `cloud-run` becomes
/// the resource's `cloud_run-` (cloudrun-security-spec §6.3).
fn iap_policy(ctx: &mut Ctx<'_>, r: &IapResource) -> Result<PolicyApi> {
    let project = ctx.project()?;
    let pn = project_number(ctx, &project)?;
    // gcloud's `iap` commands take `--region` alone (no `run/region`), and require it for
    // `--resource-type=cloud-run` (`iap_util.ParseIapIamResource`).
    let cloud_run_region = |ctx: &Ctx<'_>| {
        ctx.global.region.clone().ok_or_else(|| {
            CliError::Msg(
                "Invalid value for [--region]: `--region` must be specified for `--resource-type=cloud-run`.".to_owned(),
            )
        })
    };
    let (path, name) = match (r.resource_type.as_deref(), &r.service) {
        (Some("cloud-run"), Some(service)) => {
            let region = cloud_run_region(ctx)?;
            (
                format!(
                    "/v1/projects/{pn}/iap_web/cloud_run-{}/services/{}",
                    enc(&region),
                    enc(service)
                ),
                service.clone(),
            )
        }
        // gcloud's `CloudRuns` level: every Cloud Run service of the region inherits it.
        (Some("cloud-run"), None) => {
            let region = cloud_run_region(ctx)?;
            (
                format!("/v1/projects/{pn}/iap_web/cloud_run-{}", enc(&region)),
                format!("cloud_run-{region}"),
            )
        }
        (None, None) => (format!("/v1/projects/{pn}/iap_web"), project.clone()),
        (Some(other), _) => {
            return Err(CliError::Usage(format!(
                "argument --resource-type: Invalid choice: '{other}'. Kumo supports [cloud-run]."
            )));
        }
        (None, Some(_)) => {
            return Err(CliError::Msg(
                "Invalid value for [--service]: `--service` cannot be specified without `--resource-type`.".to_owned(),
            ));
        }
    };
    Ok(PolicyApi::at("POST", &path, "IAP resource", &name))
}

pub fn iap(ctx: &mut Ctx<'_>, cmd: IapCmd) -> Result<()> {
    let IapCmd::Web(web) = cmd;
    match web.cmd {
        IapWebCmd::GetIamPolicy { resource } => {
            let api = iap_policy(ctx, &resource)?;
            policy::show(ctx, &api)
        }
        IapWebCmd::AddIamPolicyBinding { resource, binding } => {
            let api = iap_policy(ctx, &resource)?;
            policy::change_binding(ctx, &api, &binding, true)
        }
        IapWebCmd::RemoveIamPolicyBinding { resource, binding } => {
            let api = iap_policy(ctx, &resource)?;
            policy::change_binding(ctx, &api, &binding, false)
        }
    }
}

pub fn services(ctx: &mut Ctx<'_>, cmd: ServicesCmd) -> Result<()> {
    let ServicesCmd::Identity(i) = cmd;
    let ServicesIdentityCmd::Create { service } = i.cmd;
    let project = ctx.project()?;
    let path = format!(
        "/v1beta1/projects/{}/services/{}:generateServiceIdentity",
        enc(&project),
        enc(&service)
    );
    let op = ctx.post(&path, &json!({}))?;
    let identity = wait_operation(ctx, "/v1beta1", op)?;
    let email = s(&identity, "email");
    if email.is_empty() {
        ctx.status("Service identity created");
    } else {
        ctx.status(&format!("Service identity created: {email}"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------- artifacts

fn location(ctx: &Ctx<'_>, flag: Option<String>) -> Result<String> {
    flag.or_else(|| ctx.props.get("artifacts/location"))
        .or_else(|| ctx.global.region.clone())
        .or_else(|| ctx.props.get("run/region"))
        .ok_or_else(|| CliError::Usage("Missing required argument [--location].".to_owned()))
}

/// gcloud's `%Y-%m-%dT%H:%M:%S` date transform of an RFC 3339 time.
/// UNCONFIRMED: gcloud shows the local time zone; Kumo shows UTC.
fn date_seconds(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time).map_or_else(
        |_| time.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        },
    )
}

/// Bytes as gcloud's `SIZE (MB)`: megabytes with up to three decimals, `0` when empty.
fn size_mb(bytes: &Value) -> String {
    let n = bytes
        .as_str()
        .and_then(|b| b.parse::<f64>().ok())
        .or_else(|| bytes.as_f64())
        .unwrap_or(0.0);
    if n == 0.0 {
        return "0".to_owned();
    }
    let text = format!("{:.3}", n / 1e6);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `gcloud artifacts repositories list` (title `ARTIFACT_REGISTRY`).
const REPO_COLUMNS: Columns = &[
    ("REPOSITORY", |v| basename(&s(v, "name"))),
    ("FORMAT", |v| s(v, "format")),
    ("MODE", |v| s(v, "mode")),
    ("DESCRIPTION", |v| s(v, "description")),
    ("LOCATION", |v| {
        v["name"]
            .as_str()
            .and_then(|n| n.split('/').nth(3))
            .unwrap_or("")
            .to_owned()
    }),
    ("LABELS", |v| {
        v["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", crate::format::render_scalar(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }),
    ("ENCRYPTION", |v| {
        if s(v, "kmsKeyName").is_empty() {
            "Google-managed key".to_owned()
        } else {
            "Customer-managed key".to_owned()
        }
    }),
    ("CREATE_TIME", |v| date_seconds(&s(v, "createTime"))),
    ("UPDATE_TIME", |v| date_seconds(&s(v, "updateTime"))),
    ("SIZE (MB)", |v| size_mb(&v["sizeBytes"])),
];

/// `artifacts repositories list` (its `DEFAULT_LIST_FORMAT`).
const REPOSITORIES: Listing = Listing {
    columns: REPO_COLUMNS,
    keys: Keys {
        labels: &[
            ("REPOSITORY", "name.basename()"),
            ("FORMAT", "format"),
            ("MODE", "mode.basename(undefined=STANDARD_REPOSITORY)"),
            ("DESCRIPTION", "description"),
            ("LOCATION", "name.segment(3)"),
            (
                "ENCRYPTION",
                "kmsKeyName.yesno(yes='Customer-managed key', no='Google-managed key')",
            ),
            ("CREATE_TIME", "createTime.date()"),
            ("UPDATE_TIME", "updateTime.date()"),
        ],
        attrs: &[],
    },
    uri: Some(|v| Some(format!("v1/{}", s(v, "name")))),
    title: Some("ARTIFACT_REGISTRY"),
};

const IMAGE_COLUMNS: Columns = &[
    ("IMAGE", |v| {
        s(v, "uri").split('@').next().unwrap_or("").to_owned()
    }),
    ("DIGEST", |v| {
        s(v, "uri").split('@').nth(1).unwrap_or("").to_owned()
    }),
    ("CREATE_TIME", |v| date_seconds(&s(v, "uploadTime"))),
    ("UPDATE_TIME", |v| date_seconds(&s(v, "updateTime"))),
    ("SIZE", |v| s(v, "imageSizeBytes")),
];

/// `--include-tags` adds TAGS after DIGEST.
const IMAGE_COLUMNS_WITH_TAGS: Columns = &[
    ("IMAGE", |v| {
        s(v, "uri").split('@').next().unwrap_or("").to_owned()
    }),
    ("DIGEST", |v| {
        s(v, "uri").split('@').nth(1).unwrap_or("").to_owned()
    }),
    ("TAGS", |v| s(v, "tags").replace(';', ",")),
    ("CREATE_TIME", |v| date_seconds(&s(v, "uploadTime"))),
    ("UPDATE_TIME", |v| date_seconds(&s(v, "updateTime"))),
    ("SIZE", |v| s(v, "imageSizeBytes")),
];

pub fn artifacts(ctx: &mut Ctx<'_>, cmd: ArtifactsCmd) -> Result<()> {
    match cmd {
        ArtifactsCmd::Repositories(r) => match r.cmd {
            RepositoriesCmd::Create {
                repository,
                repository_format,
                location: loc,
                description,
            } => {
                let project = ctx.project()?;
                let loc = location(ctx, loc)?;
                let mut body = json!({"format": repository_format.to_uppercase()});
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                let path = format!(
                    "/v1/projects/{}/locations/{}/repositories",
                    enc(&project),
                    enc(&loc)
                );
                let op = ctx.call("POST", &path, &[("repositoryId", &repository)], Some(&body))?;
                // gcloud's declarative create: the request, the operation it waits for, the result.
                ctx.status(&format!("Create request issued for: [{repository}]"));
                let op_name = s(&op, "name");
                wait_operation(ctx, "/v1", op)?;
                ctx.status(&format!(
                    "Waiting for operation [{op_name}] to complete...done."
                ));
                ctx.status(&format!("Created repository [{repository}]."));
                Ok(())
            }
            RepositoriesCmd::List {
                location: loc,
                list,
            } => {
                ctx.list = list;
                let project = ctx.project()?;
                let loc = location(ctx, loc)?;
                let path = format!(
                    "/v1/projects/{}/locations/{}/repositories",
                    enc(&project),
                    enc(&loc)
                );
                let items = ctx.list_all(&path, &[], "repositories")?;
                ctx.status(&format!(
                    "Listing items under project {project}, location {loc}.\n"
                ));
                ctx.print_listing(&items, &REPOSITORIES)
            }
            RepositoriesCmd::AddIamPolicyBinding {
                repository,
                location: loc,
                binding,
            } => {
                let project = ctx.project()?;
                let loc = location(ctx, loc)?;
                let path = format!(
                    "/v1/projects/{}/locations/{}/repositories/{}",
                    enc(&project),
                    enc(&loc),
                    enc(&repository)
                );
                policy::change_binding(
                    ctx,
                    &PolicyApi::at("GET", &path, "repository", &repository),
                    &binding,
                    true,
                )
            }
        },
        ArtifactsCmd::Docker(d) => {
            let DockerCmd::Images(i) = d.cmd;
            let DockerImagesCmd::List {
                image_path,
                include_tags,
                list,
            } = i.cmd;
            ctx.list = list;
            let (loc, project, repo) = parse_docker_path(&image_path)?;
            let path = format!(
                "/v1/projects/{}/locations/{}/repositories/{}/dockerImages",
                enc(&project),
                enc(&loc),
                enc(&repo)
            );
            let items = ctx.list_all(&path, &[], "dockerImages")?;
            let prefix = image_path.trim_end_matches('/').to_owned();
            let items: Vec<Value> = items
                .into_iter()
                .filter(|i| s(i, "uri").starts_with(&prefix))
                .collect();
            ctx.status(&format!(
                "Listing items under project {project}, location {loc}, repository {repo}.\n"
            ));
            let columns = if include_tags {
                IMAGE_COLUMNS_WITH_TAGS
            } else {
                IMAGE_COLUMNS
            };
            ctx.print_list(&items, columns)
        }
    }
}

/// `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY[/IMAGE]`.
fn parse_docker_path(p: &str) -> Result<(String, String, String)> {
    let parts: Vec<&str> = p.trim_end_matches('/').split('/').collect();
    let bad = || {
        CliError::Usage(format!(
            "Invalid image path [{p}]: expected LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"
        ))
    };
    if parts.len() < 3 {
        return Err(bad());
    }
    let loc = parts[0].strip_suffix("-docker.pkg.dev").ok_or_else(bad)?;
    Ok((loc.to_owned(), parts[1].to_owned(), parts[2].to_owned()))
}

// --------------------------------------------------------------------------------- logging

/// gcloud's `--freshness` (`30s`, `10m`, `2h`, `1d`, `1w`).
fn parse_freshness(f: &str) -> Result<chrono::Duration> {
    let (num, unit) = f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len()));
    let n: i64 = num.parse().map_err(|_| {
        CliError::Usage(format!(
            "argument --freshness: Failed to parse duration: {f}"
        ))
    })?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" | "" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => {
            return Err(CliError::Usage(format!(
                "argument --freshness: Failed to parse duration: {f}"
            )));
        }
    };
    Ok(d)
}

/// gcloud adds a timestamp bound from `--freshness` unless the filter already mentions one.
pub fn read_filter(
    filter: Option<&str>,
    freshness: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let user = filter.unwrap_or("").trim();
    if user.contains("timestamp") {
        return user.to_owned();
    }
    let since = (now - freshness).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if user.is_empty() {
        format!("timestamp>=\"{since}\"")
    } else {
        format!("({user}) AND timestamp>=\"{since}\"")
    }
}

fn entry_line(e: &Value) -> String {
    let payload = if e["textPayload"].is_string() {
        s(e, "textPayload")
    } else if e["jsonPayload"].is_object() {
        e["jsonPayload"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| e["jsonPayload"].to_string())
    } else if e["protoPayload"].is_object() {
        format!(
            "{} {}",
            s(e, "protoPayload.methodName"),
            s(e, "protoPayload.status.message")
        )
    } else if e["httpRequest"].is_object() {
        format!(
            "{} {} {}",
            s(e, "httpRequest.requestMethod"),
            s(e, "httpRequest.status"),
            s(e, "httpRequest.requestUrl")
        )
    } else {
        String::new()
    };
    format!("{}\t{}\t{}", s(e, "timestamp"), s(e, "severity"), payload)
}

pub fn logging(ctx: &mut Ctx<'_>, cmd: LoggingCmd) -> Result<()> {
    let project = ctx.project()?;
    match cmd {
        LoggingCmd::Read {
            filter,
            limit,
            freshness,
            order,
        } => {
            let fresh = parse_freshness(freshness.as_deref().unwrap_or("1d"))?;
            let order = match order.as_deref().unwrap_or("desc") {
                o @ ("asc" | "desc") => o.to_owned(),
                o => {
                    return Err(CliError::Usage(format!(
                        "argument --order: Invalid choice: '{o}'. Valid choices are [asc, desc]."
                    )));
                }
            };
            let mut body = json!({
                "resourceNames": [format!("projects/{project}")],
                "filter": read_filter(filter.as_deref(), fresh, chrono::Utc::now()),
                "orderBy": format!("timestamp {order}"),
            });
            let mut entries: Vec<Value> = Vec::new();
            loop {
                if let Some(l) = limit {
                    body["pageSize"] = json!(l.saturating_sub(entries.len() as u32).min(1000));
                }
                let page = ctx.post("/v2/entries:list", &body)?;
                entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
                let done = limit.is_some_and(|l| entries.len() >= l as usize);
                match page["nextPageToken"].as_str() {
                    Some(t) if !t.is_empty() && !done => body["pageToken"] = json!(t),
                    _ => break,
                }
            }
            if let Some(l) = limit {
                entries.truncate(l as usize);
            }
            print_items(ctx, &entries)
        }
        LoggingCmd::Tail { filter } => {
            // Polls entries:list for entries newer than the last one seen, until interrupted.
            let mut since = chrono::Utc::now() - chrono::Duration::seconds(10);
            let user = filter.unwrap_or_default();
            ctx.status("Initializing tail session.");
            loop {
                let stamp = since.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                let f = if user.trim().is_empty() {
                    format!("timestamp>\"{stamp}\"")
                } else {
                    format!("({user}) AND timestamp>\"{stamp}\"")
                };
                let body = json!({"resourceNames": [format!("projects/{project}")], "filter": f, "orderBy": "timestamp asc", "pageSize": 1000});
                let page = ctx.post("/v2/entries:list", &body)?;
                for e in page["entries"].as_array().cloned().unwrap_or_default() {
                    if let Some(t) = e["timestamp"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    {
                        since = since.max(t.with_timezone(&chrono::Utc));
                    }
                    let line = if ctx.global.format.is_some() {
                        crate::format::render_one(
                            &crate::format::Format::parse(
                                ctx.global.format.as_deref().unwrap_or("json"),
                            )?,
                            &e,
                        )?
                    } else {
                        format!("{}\n", entry_line(&e))
                    };
                    ctx.stdout(&line);
                }
                let _ = ctx.out.flush();
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}

// -------------------------------------------------------------------------------- identity

const USER_COLUMNS: Columns = &[
    ("EMAIL", |v| s(v, "primaryEmail")),
    ("NAME", |v| s(v, "name.fullName")),
    ("ID", |v| s(v, "id")),
    ("SUSPENDED", |v| {
        if v["suspended"] == true {
            "True".to_owned()
        } else {
            "False".to_owned()
        }
    }),
];

const MEMBER_COLUMNS: Columns = &[
    ("MEMBER", |v| s(v, "preferredMemberKey.id")),
    ("ROLES", |v| {
        v["roles"]
            .as_array()
            .map(|r| r.iter().map(|r| s(r, "name")).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    }),
    ("NAME", |v| s(v, "name")),
];

/// The Workspace customer behind an organization (or the only organization there is).
fn customer_of(ctx: &mut Ctx<'_>, organization: Option<&str>) -> Result<String> {
    let org = match organization {
        Some(o) => ctx.get(&format!(
            "/v3/organizations/{}",
            enc(o.trim_start_matches("organizations/"))
        ))?,
        None => {
            let found = ctx.post("/v1/organizations:search", &json!({}))?;
            let orgs = found["organizations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            match orgs.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(CliError::Msg(
                        "No organization is visible to you; pass --organization.".to_owned(),
                    ));
                }
                _ => {
                    return Err(CliError::Usage(
                        "Several organizations exist; pass --organization ORGANIZATION_ID."
                            .to_owned(),
                    ));
                }
            }
        }
    };
    let c = crate::cmd::rm::customer_id(&org);
    if c.is_empty() {
        return Err(CliError::Msg(format!(
            "Organization [{}] has no directory customer.",
            s(&org, "name")
        )));
    }
    Ok(c)
}

fn group_name(ctx: &mut Ctx<'_>, email: &str) -> Result<String> {
    let found = ctx.call("GET", "/v1/groups:lookup", &[("groupKey.id", email)], None)?;
    let name = s(&found, "name");
    if name.is_empty() {
        return Err(CliError::Msg(format!("Group [{email}] was not found.")));
    }
    Ok(name)
}

pub fn identity(ctx: &mut Ctx<'_>, cmd: IdentityCmd) -> Result<()> {
    match cmd {
        IdentityCmd::Users(u) => match u.cmd {
            UsersCmd::Create {
                email,
                given_name,
                family_name,
                password,
            } => {
                let local = email.split('@').next().unwrap_or(&email).to_owned();
                let mut body = json!({
                    "primaryEmail": email,
                    "name": {"givenName": given_name.unwrap_or_else(|| local.clone()), "familyName": family_name.unwrap_or(local)}
                });
                if let Some(p) = password {
                    body["password"] = json!(p);
                }
                let user = ctx.post("/admin/directory/v1/users", &body)?;
                ctx.status(&format!("Created user [{email}]."));
                if ctx.global.format.is_some() {
                    ctx.print_one(&user)?;
                }
                Ok(())
            }
            UsersCmd::List { domain, list } => {
                ctx.list = list;
                let query: Vec<(&str, &str)> = match &domain {
                    Some(d) => vec![("domain", d.as_str())],
                    None => vec![("customer", "my_customer")],
                };
                let items = ctx.list_all("/admin/directory/v1/users", &query, "users")?;
                ctx.print_list(&items, USER_COLUMNS)
            }
            UsersCmd::Delete { email } => {
                ctx.confirm(&format!("User [{email}] will be deleted."), true)?;
                ctx.call(
                    "DELETE",
                    &format!("/admin/directory/v1/users/{}", enc(&email)),
                    &[],
                    None,
                )?;
                ctx.status(&format!("Deleted user [{email}]."));
                Ok(())
            }
        },
        IdentityCmd::Groups(g) => match g.cmd {
            GroupsCmd::Create {
                email,
                organization,
                display_name,
            } => {
                let customer = customer_of(ctx, organization.as_deref())?;
                let body = json!({
                    "groupKey": {"id": email},
                    "parent": format!("customers/{customer}"),
                    "displayName": display_name.unwrap_or_else(|| email.clone()),
                    "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""}
                });
                let op = ctx.call(
                    "POST",
                    "/v1/groups",
                    &[("initialGroupConfig", "EMPTY")],
                    Some(&body),
                )?;
                let group = if op.get("done").is_some() {
                    wait_operation(ctx, "/v1", op)?
                } else {
                    op
                };
                ctx.status(&format!("Created group [{email}]."));
                if ctx.global.format.is_some() {
                    ctx.print_one(&group)?;
                }
                Ok(())
            }
            GroupsCmd::Memberships(m) => match m.cmd {
                MembershipsCmd::Add {
                    group_email,
                    member_email,
                } => {
                    let group = group_name(ctx, &group_email)?;
                    let body = json!({"preferredMemberKey": {"id": member_email}, "roles": [{"name": "MEMBER"}]});
                    let op = ctx.post(&format!("/v1/{group}/memberships"), &body)?;
                    let membership = if op.get("done").is_some() {
                        wait_operation(ctx, "/v1", op)?
                    } else {
                        op
                    };
                    ctx.print_one(&membership)
                }
                MembershipsCmd::List { group_email, list } => {
                    ctx.list = list;
                    let group = group_name(ctx, &group_email)?;
                    let items =
                        ctx.list_all(&format!("/v1/{group}/memberships"), &[], "memberships")?;
                    ctx.print_list(&items, MEMBER_COLUMNS)
                }
            },
        },
    }
}

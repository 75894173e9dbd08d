//! `iam …`: IAM v1 service accounts, keys, roles; Policy Troubleshooter v3 for `troubleshoot`.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::cli::{IamCmd, KeysCmd, RoleParent, RolesCmd, ServiceAccountsCmd, Troubleshoot};
use crate::cmd::basename;
use crate::context::{Ctx, Listing, print_items, s};
use crate::error::{CliError, Result};
use crate::format::Keys;
use crate::http::enc;
use crate::policy::{self, PolicyApi};

pub fn iam(ctx: &mut Ctx<'_>, cmd: IamCmd) -> Result<()> {
    match cmd {
        IamCmd::ServiceAccounts(sa) => service_accounts(ctx, sa.cmd),
        IamCmd::Roles(r) => roles(ctx, r.cmd),
        IamCmd::Troubleshoot(t) => troubleshoot(ctx, &t),
    }
}

/// gcloud addresses an account as `projects/-/serviceAccounts/EMAIL` (the email is unique).
fn sa_path(email: &str) -> String {
    format!("/v1/projects/-/serviceAccounts/{}", enc(email))
}

/// `iam_util.SERVICE_ACCOUNT_FORMAT`: `table(displayName:label="DISPLAY NAME", email, disabled)`.
const SERVICE_ACCOUNTS: Listing = Listing {
    columns: &[
        ("DISPLAY NAME", |v| s(v, "displayName")),
        ("EMAIL", |v| s(v, "email")),
        ("DISABLED", |v| {
            if v["disabled"] == true {
                "True".to_owned()
            } else {
                "False".to_owned()
            }
        }),
    ],
    keys: Keys {
        labels: &[
            ("DISPLAY NAME", "displayName"),
            ("EMAIL", "email"),
            ("DISABLED", "disabled"),
        ],
        attrs: &[],
    },
    uri: Some(|v| Some(format!("v1/{}", s(v, "name")))),
    title: None,
};

/// `iam_util.SERVICE_ACCOUNT_KEY_FORMAT`.
const KEYS: Listing = Listing {
    columns: &[
        ("KEY_ID", |v| basename(&s(v, "name"))),
        ("CREATED_AT", |v| s(v, "validAfterTime")),
        ("EXPIRES_AT", |v| s(v, "validBeforeTime")),
        ("DISABLED", |v| {
            if v["disabled"] == true {
                "True".to_owned()
            } else {
                String::new()
            }
        }),
    ],
    keys: Keys {
        labels: &[
            ("KEY_ID", "name.scope(keys)"),
            ("CREATED_AT", "validAfterTime"),
            ("EXPIRES_AT", "validBeforeTime"),
            ("DISABLED", "disabled"),
        ],
        attrs: &[],
    },
    uri: Some(|v| Some(format!("v1/{}", s(v, "name")))),
    title: None,
};

fn service_accounts(ctx: &mut Ctx<'_>, cmd: ServiceAccountsCmd) -> Result<()> {
    match cmd {
        ServiceAccountsCmd::Create {
            name,
            display_name,
            description,
        } => {
            let project = ctx.project()?;
            let mut sa = json!({});
            if let Some(d) = display_name {
                sa["displayName"] = json!(d);
            }
            if let Some(d) = description {
                sa["description"] = json!(d);
            }
            let path = format!("/v1/projects/{}/serviceAccounts", enc(&project));
            let created = ctx.post(&path, &json!({"accountId": name, "serviceAccount": sa}))?;
            ctx.status(&format!("Created service account [{name}]."));
            if ctx.global.format.is_some() {
                ctx.print_one(&created)?;
            }
            Ok(())
        }
        ServiceAccountsCmd::List { list } => {
            ctx.list = list;
            let project = ctx.project()?;
            let items = ctx.list_all(
                &format!("/v1/projects/{}/serviceAccounts", enc(&project)),
                &[],
                "accounts",
            )?;
            ctx.print_listing(&items, &SERVICE_ACCOUNTS)
        }
        ServiceAccountsCmd::Describe { email } => {
            let v = ctx.get(&sa_path(&email))?;
            ctx.print_one(&v)
        }
        ServiceAccountsCmd::Delete { email } => {
            ctx.confirm(
                &format!("You are about to delete service account [{email}]."),
                true,
            )?;
            ctx.call("DELETE", &sa_path(&email), &[], None)?;
            ctx.status(&format!("deleted service account [{email}]"));
            Ok(())
        }
        ServiceAccountsCmd::Disable { email } => {
            ctx.post(&format!("{}:disable", sa_path(&email)), &json!({}))?;
            ctx.status(&format!("Disabled service account [{email}]."));
            Ok(())
        }
        ServiceAccountsCmd::Enable { email } => {
            ctx.post(&format!("{}:enable", sa_path(&email)), &json!({}))?;
            ctx.status(&format!("Enabled service account [{email}]."));
            Ok(())
        }
        ServiceAccountsCmd::GetIamPolicy { email } => policy::show(ctx, &sa_policy(&email)),
        ServiceAccountsCmd::AddIamPolicyBinding { email, binding } => {
            policy::change_binding(ctx, &sa_policy(&email), &binding, true)
        }
        ServiceAccountsCmd::RemoveIamPolicyBinding { email, binding } => {
            policy::change_binding(ctx, &sa_policy(&email), &binding, false)
        }
        ServiceAccountsCmd::Keys(k) => keys(ctx, k.cmd),
    }
}

fn sa_policy(email: &str) -> PolicyApi {
    PolicyApi::at("POST", &sa_path(email), "serviceAccount", email)
}

fn keys(ctx: &mut Ctx<'_>, cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Create {
            output_file,
            iam_account,
        } => {
            let body = json!({"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "keyAlgorithm": "KEY_ALG_RSA_2048"});
            let key = ctx.post(&format!("{}/keys", sa_path(&iam_account)), &body)?;
            let data = key["privateKeyData"]
                .as_str()
                .ok_or_else(|| CliError::Msg("the server returned no privateKeyData".to_owned()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| CliError::Msg(format!("privateKeyData is not base64: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| CliError::Msg("privateKeyData is not a JSON key file".to_owned()))?;
            crate::config::write_private(std::path::Path::new(&output_file), &text)?;
            ctx.status(&format!(
                "created key [{}] of type [json] as [{output_file}] for [{iam_account}]",
                basename(&s(&key, "name"))
            ));
            Ok(())
        }
        KeysCmd::List { iam_account, list } => {
            ctx.list = list;
            let v = ctx.get(&format!("{}/keys", sa_path(&iam_account)))?;
            let items = v["keys"].as_array().cloned().unwrap_or_default();
            ctx.print_listing(&items, &KEYS)
        }
        KeysCmd::Delete {
            key_id,
            iam_account,
        } => {
            ctx.confirm(
                &format!(
                    "You are about to delete key [{key_id}] for service account [{iam_account}]."
                ),
                true,
            )?;
            ctx.call(
                "DELETE",
                &format!("{}/keys/{}", sa_path(&iam_account), enc(&key_id)),
                &[],
                None,
            )?;
            ctx.status(&format!(
                "deleted key [{key_id}] for service account [{iam_account}]"
            ));
            Ok(())
        }
    }
}

/// The role's resource name: `roles/X` as is; a bare id under the `--organization`/`--project`.
fn role_name(ctx: &Ctx<'_>, role: &str, parent: &RoleParent) -> Result<String> {
    if role.starts_with("roles/")
        || role.starts_with("projects/")
        || role.starts_with("organizations/")
    {
        return Ok(role.to_owned());
    }
    Ok(format!(
        "{}/roles/{role}",
        role_parent(ctx, parent)?.ok_or_else(|| {
            CliError::Usage(format!(
                "a custom role id needs --project or --organization (or use roles/{role})"
            ))
        })?
    ))
}

fn role_parent(ctx: &Ctx<'_>, parent: &RoleParent) -> Result<Option<String>> {
    Ok(match (&parent.organization, &ctx.global.project) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "Specify only one of --organization and --project.".to_owned(),
            ));
        }
        (Some(o), None) => Some(format!("organizations/{o}")),
        (None, Some(p)) => Some(format!("projects/{p}")),
        (None, None) => None,
    })
}

fn roles(ctx: &mut Ctx<'_>, cmd: RolesCmd) -> Result<()> {
    match cmd {
        RolesCmd::Describe { role, parent } => {
            let name = role_name(ctx, &role, &parent)?;
            let v = ctx.get(&format!("/v1/{name}"))?;
            ctx.print_one(&v)
        }
        RolesCmd::List { parent, list } => {
            ctx.list = list;
            let path = match role_parent(ctx, &parent)? {
                Some(p) => format!("/v1/{p}/roles"),
                None => "/v1/roles".to_owned(),
            };
            let items = ctx.list_all(&path, &[("pageSize", "1000")], "roles")?;
            print_items(ctx, &items)
        }
        RolesCmd::Create {
            role_id,
            parent,
            title,
            description,
            permissions,
            stage,
        } => {
            let p = role_parent(ctx, &parent)?.ok_or_else(|| {
                CliError::Usage("Specify --project or --organization for a custom role.".to_owned())
            })?;
            let mut role = json!({"title": title.unwrap_or_else(|| role_id.clone()), "includedPermissions": permissions});
            if let Some(d) = description {
                role["description"] = json!(d);
            }
            role["stage"] = json!(stage.unwrap_or_else(|| "ALPHA".to_owned()));
            let created = ctx.post(
                &format!("/v1/{p}/roles"),
                &json!({"roleId": role_id, "role": role}),
            )?;
            ctx.status(&format!("Created role [{role_id}]."));
            ctx.print_one(&created)
        }
        RolesCmd::Update {
            role_id,
            parent,
            title,
            description,
            add_permissions,
            remove_permissions,
            stage,
        } => {
            let name = role_name(ctx, &role_id, &parent)?;
            let mut role = ctx.get(&format!("/v1/{name}"))?;
            let mut mask = Vec::new();
            if let Some(t) = title {
                role["title"] = json!(t);
                mask.push("title");
            }
            if let Some(d) = description {
                role["description"] = json!(d);
                mask.push("description");
            }
            if let Some(st) = stage {
                role["stage"] = json!(st);
                mask.push("stage");
            }
            if !add_permissions.is_empty() || !remove_permissions.is_empty() {
                let mut perms: Vec<String> = role["includedPermissions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                perms.retain(|p| !remove_permissions.contains(p));
                for p in add_permissions {
                    if !perms.contains(&p) {
                        perms.push(p);
                    }
                }
                role["includedPermissions"] = json!(perms);
                mask.push("includedPermissions");
            }
            if mask.is_empty() {
                return Err(CliError::Usage("Nothing to update: give --title, --description, --stage, --add-permissions or --remove-permissions.".to_owned()));
            }
            let mask = mask.join(",");
            let updated = ctx.call(
                "PATCH",
                &format!("/v1/{name}"),
                &[("updateMask", &mask)],
                Some(&role),
            )?;
            ctx.print_one(&updated)
        }
        RolesCmd::Delete { role_id, parent } => {
            let name = role_name(ctx, &role_id, &parent)?;
            let deleted = ctx.call("DELETE", &format!("/v1/{name}"), &[], None)?;
            ctx.status(&format!(
                "deleted role [{role_id}] in [{}]",
                name.rsplit_once("/roles/").map_or("", |(p, _)| p)
            ));
            ctx.print_one(&deleted)
        }
    }
}

/// Policy Troubleshooter v3 (`POST /v3/iam:troubleshoot`), explained in sentences.
pub fn troubleshoot(ctx: &mut Ctx<'_>, t: &Troubleshoot) -> Result<()> {
    let resource = match (&t.resource, &t.service) {
        (Some(r), _) => r.clone(),
        (None, Some(service)) => format!(
            "//run.googleapis.com/projects/{}/locations/{}/services/{service}",
            ctx.project()?,
            ctx.region()?
        ),
        (None, None) => format!(
            "//cloudresourcemanager.googleapis.com/projects/{}",
            ctx.project()?
        ),
    };
    // Policy Troubleshooter v3 takes a bare email.
    let principal = t
        .principal_email
        .split_once(':')
        .map_or(t.principal_email.as_str(), |(_, e)| e);
    let (resource, permission) = (resource.as_str(), t.permission.as_str());
    let body = json!({"accessTuple": {"principal": principal, "fullResourceName": resource, "permission": permission}});
    let resp = ctx.post("/v3/iam:troubleshoot", &body)?;
    if ctx.global.format.is_some() {
        return ctx.print_one(&resp);
    }
    let text = explain(&resp, &ctx.prog, principal, resource, permission);
    ctx.stdout(&text);
    Ok(())
}

/// Turns a TroubleshootIamPolicyResponse into text a person reads.
pub fn explain(
    resp: &Value,
    prog: &str,
    principal: &str,
    resource: &str,
    permission: &str,
) -> String {
    let verdict = match resp["overallAccessState"].as_str().unwrap_or("") {
        "CAN_ACCESS" => "HAS",
        "CANNOT_ACCESS" => "DOES NOT HAVE",
        "UNKNOWN_CONDITIONAL" => {
            "MAY HAVE (a condition could not be evaluated without request context)"
        }
        _ => "MAY OR MAY NOT HAVE (you cannot see every policy involved)",
    };
    let mut out = format!("{principal} {verdict} permission {permission} on {resource}.\n");
    let deny = &resp["denyPolicyExplanation"];
    if deny["denyAccessState"] == "DENY_ACCESS_STATE_DENIED" {
        out.push_str("\nA deny policy denies this permission.\n");
    }
    let policies = resp["allowPolicyExplanation"]["explainedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if policies.is_empty() {
        out.push_str(
            "\nNo allow policy on the resource or its ancestors grants anything relevant.\n",
        );
        out.push_str(&suggestions(resp, prog, principal, resource));
        return out;
    }
    out.push_str("\nAllow policies checked (resource first, then its ancestors):\n");
    for p in &policies {
        let state = match p["allowAccessState"].as_str().unwrap_or("") {
            "ALLOW_ACCESS_STATE_GRANTED" => "grants access",
            "ALLOW_ACCESS_STATE_NOT_GRANTED" => "does not grant access",
            "ALLOW_ACCESS_STATE_UNKNOWN_CONDITIONAL" => "grants access only if a condition holds",
            _ => "could not be fully evaluated",
        };
        out.push_str(&format!("\n  {}: {state}\n", s(p, "fullResourceName")));
        let bindings = p["bindingExplanations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if bindings.is_empty() {
            out.push_str("    (no bindings, or you may not view this policy)\n");
        }
        for b in &bindings {
            let role_has = match b["rolePermission"].as_str().unwrap_or("") {
                "ROLE_PERMISSION_INCLUDED" => "includes the permission",
                "ROLE_PERMISSION_NOT_INCLUDED" => "does not include the permission",
                _ => "may include the permission (role unavailable)",
            };
            let member = match b["combinedMembership"]["membership"].as_str().unwrap_or("") {
                "MEMBERSHIP_MATCHED" => "the principal is a member",
                "MEMBERSHIP_NOT_MATCHED" => "the principal is not a member",
                _ => "membership unknown",
            };
            // Name the binding members that matched: a group or domain shows how access flows.
            let via: Vec<&str> = b["memberships"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| v["membership"] == "MEMBERSHIP_MATCHED")
                        .map(|(k, _)| k.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let member = if via.is_empty() {
                member.to_owned()
            } else {
                format!("{member} (via {})", via.join(", "))
            };
            let mark = if b["allowAccessState"] == "ALLOW_ACCESS_STATE_GRANTED" {
                "✔"
            } else {
                "-"
            };
            out.push_str(&format!(
                "    {mark} {}: {role_has}; {member}",
                s(b, "role")
            ));
            if b["condition"].is_object() {
                let cond_state = match b["conditionExplanation"]["value"].as_bool() {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "unknown",
                };
                out.push_str(&format!(
                    "; condition \"{}\" is {cond_state}",
                    s(b, "condition.title")
                ));
            }
            out.push('\n');
        }
    }
    out.push_str(&suggestions(resp, prog, principal, resource));
    out
}

/// Kumo's troubleshooter names the smallest predefined roles that would grant the permission;
/// for a refusal they become what to grant, and the command that grants the first.
fn suggestions(resp: &Value, prog: &str, principal: &str, resource: &str) -> String {
    let mut out = String::new();
    let suggested: Vec<&str> = resp["suggestedRoles"]
        .as_array()
        .map(|roles| roles.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if resp["overallAccessState"] != "CAN_ACCESS" && !suggested.is_empty() {
        out.push_str(&format!(
            "\nTo give {principal} this permission, grant one of these roles (smallest first) on the resource or one of its ancestors:\n"
        ));
        for role in &suggested {
            out.push_str(&format!("  {role}\n"));
        }
        if let Some(command) = grant_command(prog, resource, &member(principal), suggested[0]) {
            out.push_str(&format!("For example:\n  $ {command}\n"));
        }
    }
    out
}

/// The IAM member for a bare troubleshooter email: service accounts by their domain, people
/// otherwise (a group's email cannot be told apart; its binding is written `group:`).
fn member(email: &str) -> String {
    if email.ends_with(".gserviceaccount.com") {
        format!("serviceAccount:{email}")
    } else {
        format!("user:{email}")
    }
}

/// The CLI command that adds `role` for `member` on a full resource name, for the kinds of
/// resources the CLI has a binding command for.
fn grant_command(prog: &str, resource: &str, member: &str, role: &str) -> Option<String> {
    let tail = format!("--member={member} --role={role}");
    let parts: Vec<&str> = resource.trim_start_matches("//").split('/').collect();
    match parts.as_slice() {
        [
            "run.googleapis.com",
            "projects",
            p,
            "locations",
            r,
            "services",
            s,
        ] => Some(format!(
            "{prog} run services add-iam-policy-binding {s} --project={p} --region={r} {tail}"
        )),
        ["cloudresourcemanager.googleapis.com", "projects", p] => {
            Some(format!("{prog} projects add-iam-policy-binding {p} {tail}"))
        }
        ["cloudresourcemanager.googleapis.com", "organizations", o] => Some(format!(
            "{prog} organizations add-iam-policy-binding {o} {tail}"
        )),
        ["iam.googleapis.com", "projects", _, "serviceAccounts", sa] => Some(format!(
            "{prog} iam service-accounts add-iam-policy-binding {sa} {tail}"
        )),
        _ => None,
    }
}

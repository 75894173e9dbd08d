//! Resource Manager (v1 for projects/organizations listing and IAM as gcloud uses it, v3 for
//! creation), and organization policies in both API versions (v1 `resource-manager org-policies`,
//! v2 `org-policies`).

use serde_json::{Value, json};

use crate::cli::{
    FoldersCmd, OrgPoliciesCmd, OrgPoliciesV1Cmd, OrganizationsCmd, PolicyTarget, ProjectsCmd,
    ResourceManagerCmd,
};
use crate::cmd::{basename, wait_operation};
use crate::context::{Columns, Ctx, Listing, s};
use crate::error::{CliError, Result};
use crate::format::Keys;
use crate::http::enc;
use crate::policy::{self, PolicyApi};

/// gcloud's `projects list`: v1 projects (`table(projectId:sort=1, name, projectNumber,
/// tags.environment:label='ENVIRONMENT')`); the labels are format and filter keys.
const PROJECTS: Listing = Listing {
    columns: &[
        ("PROJECT_ID", |v| s(v, "projectId")),
        ("NAME", |v| s(v, "name")),
        ("PROJECT_NUMBER", |v| s(v, "projectNumber")),
    ],
    keys: Keys {
        labels: &[
            ("PROJECT_ID", "projectId"),
            ("NAME", "name"),
            ("PROJECT_NUMBER", "projectNumber"),
            ("ENVIRONMENT", "tags.environment"),
        ],
        attrs: &[],
    },
    uri: Some(|v| Some(format!("v1/projects/{}", s(v, "projectId")))),
    title: None,
};

/// gcloud's `organizations list` (`name.segment():label=ID`).
const ORGANIZATIONS: Listing = Listing {
    columns: &[
        ("DISPLAY_NAME", |v| s(v, "displayName")),
        ("ID", |v| basename(&s(v, "name"))),
        ("DIRECTORY_CUSTOMER_ID", |v| {
            s(v, "owner.directoryCustomerId")
        }),
    ],
    keys: Keys {
        labels: &[
            ("DISPLAY_NAME", "displayName"),
            ("ID", "name.segment()"),
            ("DIRECTORY_CUSTOMER_ID", "owner.directoryCustomerId"),
        ],
        attrs: &[],
    },
    uri: Some(|v| Some(format!("v1/organizations/{}", basename(&s(v, "name"))))),
    title: None,
};

/// v1 nests the Workspace customer under `owner`; v3 puts it at the top.
pub fn customer_id(org: &Value) -> String {
    let v1 = s(org, "owner.directoryCustomerId");
    if v1.is_empty() {
        s(org, "directoryCustomerId")
    } else {
        v1
    }
}

fn project_policy(p: &str) -> PolicyApi {
    PolicyApi::at("POST", &format!("/v1/projects/{}", enc(p)), "project", p)
}

fn org_policy(o: &str) -> PolicyApi {
    let id = o.trim_start_matches("organizations/");
    PolicyApi::at(
        "POST",
        &format!("/v1/organizations/{}", enc(id)),
        "organization",
        id,
    )
}

pub fn projects(ctx: &mut Ctx<'_>, cmd: ProjectsCmd) -> Result<()> {
    match cmd {
        ProjectsCmd::Create {
            project_id,
            organization,
            folder,
            name,
        } => {
            let mut body = json!({"projectId": project_id, "displayName": name.unwrap_or_else(|| project_id.clone())});
            match (organization, folder) {
                (Some(_), Some(_)) => {
                    return Err(CliError::Usage(
                        "Specify only one of --organization and --folder.".to_owned(),
                    ));
                }
                (Some(o), None) => body["parent"] = json!(format!("organizations/{o}")),
                (None, Some(f)) => body["parent"] = json!(format!("folders/{f}")),
                (None, None) => {}
            }
            let op = ctx.post("/v3/projects", &body)?;
            ctx.status(&format!(
                "Create in progress for [{}/v1/projects/{project_id}].",
                ctx.http.base()
            ));
            let op_name = s(&op, "name");
            let project = wait_operation(ctx, "/v3", op)?;
            ctx.status(&format!("Waiting for [{op_name}] to finish...done."));
            if ctx.global.format.is_some() {
                ctx.print_one(&project)?;
            }
            Ok(())
        }
        ProjectsCmd::List { list } => {
            ctx.list = list;
            let mut items: Vec<Value> = ctx
                .list_all("/v3/projects:search", &[], "projects")?
                .iter()
                .map(v1_project)
                .collect();
            items.sort_by_key(|p| s(p, "projectId"));
            ctx.print_listing(&items, &PROJECTS)
        }
        ProjectsCmd::Describe { project_id } => {
            let v = ctx.get(&format!("/v3/projects/{}", enc(&project_id)))?;
            ctx.print_one(&v1_project(&v))
        }
        ProjectsCmd::GetIamPolicy { project_id } => policy::show(ctx, &project_policy(&project_id)),
        ProjectsCmd::AddIamPolicyBinding {
            project_id,
            binding,
        } => policy::change_binding(ctx, &project_policy(&project_id), &binding, true),
        ProjectsCmd::RemoveIamPolicyBinding {
            project_id,
            binding,
        } => policy::change_binding(ctx, &project_policy(&project_id), &binding, false),
    }
}

pub fn organizations(ctx: &mut Ctx<'_>, cmd: OrganizationsCmd) -> Result<()> {
    match cmd {
        OrganizationsCmd::List { list } => {
            ctx.list = list;
            let v = ctx.post("/v1/organizations:search", &json!({}))?;
            let items = v["organizations"].as_array().cloned().unwrap_or_default();
            ctx.print_listing(&items, &ORGANIZATIONS)
        }
        OrganizationsCmd::Describe { organization } => {
            let id = organization.trim_start_matches("organizations/").to_owned();
            let v = ctx.get(&format!("/v3/organizations/{}", enc(&id)))?;
            ctx.print_one(&v)
        }
        OrganizationsCmd::Create {
            domain,
            display_name,
        } => {
            let mut body = json!({"domain": domain});
            if let Some(d) = display_name {
                body["displayName"] = json!(d);
            }
            let org = ctx.post("/kumo/v1/organizations", &body)?;
            ctx.status(&format!(
                "Created organization [{}] for domain [{domain}].",
                s(&org, "name")
            ));
            ctx.print_one(&org)
        }
        OrganizationsCmd::GetIamPolicy { organization } => {
            policy::show(ctx, &org_policy(&organization))
        }
        OrganizationsCmd::AddIamPolicyBinding {
            organization,
            binding,
        } => policy::change_binding(ctx, &org_policy(&organization), &binding, true),
        OrganizationsCmd::RemoveIamPolicyBinding {
            organization,
            binding,
        } => policy::change_binding(ctx, &org_policy(&organization), &binding, false),
    }
}

/// `projects/P`, `folders/F` or `organizations/O` from the flags (project by default).
fn target(ctx: &Ctx<'_>, t: &PolicyTarget) -> Result<String> {
    match (&t.organization, &t.folder, &ctx.global.project) {
        (Some(o), None, None) => Ok(format!("organizations/{o}")),
        (None, Some(f), None) => Ok(format!("folders/{f}")),
        (None, None, _) => Ok(format!("projects/{}", ctx.project()?)),
        _ => Err(CliError::Usage(
            "Exactly one of (--folder | --organization | --project) must be specified.".to_owned(),
        )),
    }
}

fn constraint_name(c: &str) -> String {
    if c.starts_with("constraints/") {
        c.to_owned()
    } else {
        format!("constraints/{c}")
    }
}

pub fn resource_manager(ctx: &mut Ctx<'_>, cmd: ResourceManagerCmd) -> Result<()> {
    match cmd {
        ResourceManagerCmd::Folders(f) => match f.cmd {
            FoldersCmd::Create {
                display_name,
                parent,
            } => {
                let parent = match (parent.organization, parent.folder) {
                    (Some(o), None) => format!("organizations/{o}"),
                    (None, Some(f)) => format!("folders/{f}"),
                    _ => {
                        return Err(CliError::Usage(
                            "Exactly one of (--folder | --organization) must be specified."
                                .to_owned(),
                        ));
                    }
                };
                let op = ctx.post(
                    "/v3/folders",
                    &json!({"displayName": display_name, "parent": parent}),
                )?;
                let op_name = s(&op, "name");
                let mut folder = wait_operation(ctx, "/v3", op)?;
                // The operation's response is an Any; the Folder is printed without its type URL.
                if let Some(m) = folder.as_object_mut() {
                    m.remove("@type");
                }
                ctx.status(&format!("Waiting for [{op_name}] to finish...done."));
                ctx.print_one(&folder)
            }
        },
        ResourceManagerCmd::OrgPolicies(o) => org_policies_v1(ctx, o.cmd),
    }
}

const V1_POLICY_COLUMNS: Columns = &[
    ("CONSTRAINT", |v| s(v, "constraint")),
    ("LIST_POLICY", |v| {
        if v["listPolicy"].is_object() {
            "SET".to_owned()
        } else {
            "-".to_owned()
        }
    }),
    ("BOOLEAN_POLICY", |v| {
        if v["booleanPolicy"].is_object() {
            "SET".to_owned()
        } else {
            "-".to_owned()
        }
    }),
    ("ETAG", |v| s(v, "etag")),
];

fn org_policies_v1(ctx: &mut Ctx<'_>, cmd: OrgPoliciesV1Cmd) -> Result<()> {
    match cmd {
        OrgPoliciesV1Cmd::EnableEnforce {
            constraint,
            target: t,
        } => set_enforce(ctx, &constraint, &t, true),
        OrgPoliciesV1Cmd::DisableEnforce {
            constraint,
            target: t,
        } => set_enforce(ctx, &constraint, &t, false),
        OrgPoliciesV1Cmd::Describe {
            constraint,
            target: t,
            effective,
        } => {
            let r = target(ctx, &t)?;
            let verb = if effective {
                "getEffectiveOrgPolicy"
            } else {
                "getOrgPolicy"
            };
            let v = ctx.post(
                &format!("/v1/{r}:{verb}"),
                &json!({"constraint": constraint_name(&constraint)}),
            )?;
            ctx.print_one(&v)
        }
        OrgPoliciesV1Cmd::List { target: t, list } => {
            ctx.list = list;
            let r = target(ctx, &t)?;
            let v = ctx.post(&format!("/v1/{r}:listOrgPolicies"), &json!({}))?;
            let items = v["policies"].as_array().cloned().unwrap_or_default();
            ctx.print_list(&items, V1_POLICY_COLUMNS)
        }
        OrgPoliciesV1Cmd::Allow {
            constraint,
            allowed_value,
            target: t,
        } => add_list_values(ctx, &constraint, &t, "allowedValues", &allowed_value),
        OrgPoliciesV1Cmd::Deny {
            constraint,
            denied_value,
            target: t,
        } => add_list_values(ctx, &constraint, &t, "deniedValues", &denied_value),
        OrgPoliciesV1Cmd::Delete {
            constraint,
            target: t,
        } => {
            let r = target(ctx, &t)?;
            ctx.post(
                &format!("/v1/{r}:clearOrgPolicy"),
                &json!({"constraint": constraint_name(&constraint)}),
            )?;
            // gcloud: `log.DeletedResource(result)` of the google.protobuf.Empty it receives.
            ctx.status("Deleted [<Empty>].");
            Ok(())
        }
        OrgPoliciesV1Cmd::SetPolicy {
            policy_file,
            target: t,
        } => {
            let r = target(ctx, &t)?;
            let policy = policy::read_policy_file(&policy_file)?;
            let v = ctx.post(&format!("/v1/{r}:setOrgPolicy"), &json!({"policy": policy}))?;
            ctx.print_one(&v)
        }
    }
}

/// v1 `allow` / `deny` (gcloud's `resource-manager org-policies allow|deny`): the policy set
/// on the resource, its `field` list (`allowedValues`/`deniedValues`) extended by `values`, with
/// gcloud's refusals for policies of another kind.
fn add_list_values(
    ctx: &mut Ctx<'_>,
    constraint: &str,
    t: &PolicyTarget,
    field: &str,
    values: &[String],
) -> Result<()> {
    let r = target(ctx, t)?;
    let constraint = constraint_name(constraint);
    let mut policy = ctx.post(
        &format!("/v1/{r}:getOrgPolicy"),
        &json!({"constraint": constraint}),
    )?;
    let (kind, other) = if field == "allowedValues" {
        ("allowed_values", "deniedValues")
    } else {
        ("denied_values", "allowedValues")
    };
    let list = &policy["listPolicy"];
    let has = |k: &str| list[k].as_array().is_some_and(|a| !a.is_empty());
    if policy["booleanPolicy"].is_object() || has(other) {
        return Err(CliError::Msg(format!(
            "Cannot add values to a non-{kind} list policy."
        )));
    }
    if list["allValues"]
        .as_str()
        .is_some_and(|a| !a.is_empty() && a != "ALL_VALUES_UNSPECIFIED")
    {
        return Err(CliError::Msg(
            "Cannot add values if all_values is already specified.".to_owned(),
        ));
    }
    if has(field) {
        if let Some(existing) = policy["listPolicy"][field].as_array_mut() {
            existing.extend(values.iter().map(|v| json!(v)));
        }
    } else {
        policy["listPolicy"] = json!({ field: values });
    }
    if let Some(m) = policy.as_object_mut() {
        m.remove("restoreDefault");
        m.entry("constraint").or_insert_with(|| json!(constraint));
    }
    let v = ctx.post(&format!("/v1/{r}:setOrgPolicy"), &json!({"policy": policy}))?;
    ctx.print_one(&v)
}

/// `enable-enforce` / `disable-enforce`: a v1 boolean policy (seed 004's `disable-enforce`).
fn set_enforce(
    ctx: &mut Ctx<'_>,
    constraint: &str,
    t: &PolicyTarget,
    enforced: bool,
) -> Result<()> {
    let r = target(ctx, t)?;
    let policy =
        json!({"constraint": constraint_name(constraint), "booleanPolicy": {"enforced": enforced}});
    let v = ctx.post(&format!("/v1/{r}:setOrgPolicy"), &json!({"policy": policy}))?;
    ctx.print_one(&v)
}

const V2_POLICY_COLUMNS: Columns = &[
    ("CONSTRAINT", |v| basename(&s(v, "name"))),
    ("LIST_POLICY", |v| {
        if rules(v).iter().any(|r| {
            r["values"].is_object() || r["allowAll"].is_boolean() || r["denyAll"].is_boolean()
        }) {
            "SET".to_owned()
        } else {
            "-".to_owned()
        }
    }),
    ("BOOLEAN_POLICY", |v| {
        if rules(v).iter().any(|r| r["enforce"].is_boolean()) {
            "SET".to_owned()
        } else {
            "-".to_owned()
        }
    }),
    ("ETAG", |v| s(v, "etag")),
];

fn rules(v: &Value) -> Vec<Value> {
    v["spec"]["rules"].as_array().cloned().unwrap_or_default()
}

pub fn org_policies(ctx: &mut Ctx<'_>, cmd: OrgPoliciesCmd) -> Result<()> {
    match cmd {
        OrgPoliciesCmd::SetPolicy { policy_file } => {
            let policy = policy::read_policy_file(&policy_file)?;
            let name = policy["name"]
                .as_str()
                .ok_or_else(|| {
                    CliError::Msg(format!(
                        "[{policy_file}] has no policy name (e.g. projects/P/policies/CONSTRAINT)."
                    ))
                })?
                .to_owned();
            // gcloud updates, and creates when the policy does not exist yet.
            let v = match ctx.call("PATCH", &format!("/v2/{name}"), &[], Some(&policy)) {
                Err(e) if e.is_not_found() => {
                    let parent = name
                        .split("/policies/")
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    ctx.post(&format!("/v2/{parent}/policies"), &policy)?
                }
                other => other?,
            };
            ctx.print_one(&v)
        }
        OrgPoliciesCmd::Describe {
            constraint,
            target: t,
            effective,
        } => {
            let r = target(ctx, &t)?;
            let c = constraint.trim_start_matches("constraints/");
            let path = if effective {
                format!("/v2/{r}/policies/{c}:getEffectivePolicy")
            } else {
                format!("/v2/{r}/policies/{c}")
            };
            let v = ctx.get(&path)?;
            ctx.print_one(&v)
        }
        OrgPoliciesCmd::Reset {
            constraint,
            target: t,
        } => {
            let r = target(ctx, &t)?;
            let c = constraint.trim_start_matches("constraints/");
            let name = format!("{r}/policies/{c}");
            let policy = json!({"name": name, "spec": {"reset": true}});
            let v = match ctx.call("PATCH", &format!("/v2/{name}"), &[], Some(&policy)) {
                Err(e) if e.is_not_found() => ctx.post(&format!("/v2/{r}/policies"), &policy)?,
                other => other?,
            };
            ctx.print_one(&v)
        }
        OrgPoliciesCmd::List { target: t, list } => {
            ctx.list = list;
            let r = target(ctx, &t)?;
            let items = ctx.list_all(&format!("/v2/{r}/policies"), &[], "policies")?;
            ctx.print_list(&items, V2_POLICY_COLUMNS)
        }
        OrgPoliciesCmd::Delete {
            constraint,
            target: t,
            etag,
        } => {
            let r = target(ctx, &t)?;
            let c = constraint.trim_start_matches("constraints/");
            let name = format!("{r}/policies/{c}");
            let query: Vec<(&str, &str)> =
                etag.as_deref().map(|e| ("etag", e)).into_iter().collect();
            let v = ctx.call("DELETE", &format!("/v2/{name}"), &query, None)?;
            ctx.status(&format!("Deleted policy [{name}]."));
            // The command returns the google.protobuf.Empty, which gcloud's default format
            // prints. UNCONFIRMED: `{}` on stdout, as for other commands returning Empty.
            ctx.print_one(&v)
        }
    }
}

/// gcloud prints Resource Manager v1's Project (`projectNumber`, `lifecycleState`, `name` = the
/// display name, `parent {type, id}`); Kumo reads v3 and renders that shape, so scripts written
/// against gcloud (`--format 'value(projectNumber)'`) work unchanged.
fn v1_project(v3: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(time) = v3.get("createTime") {
        out.insert("createTime".into(), time.clone());
    }
    if let Some(state) = v3.get("state").and_then(Value::as_str) {
        out.insert("lifecycleState".into(), json!(state));
    }
    if let Some(labels) = v3
        .get("labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        out.insert("labels".into(), labels.clone());
    }
    if let Some(display) = v3.get("displayName") {
        out.insert("name".into(), display.clone());
    }
    if let Some((kind, id)) = v3
        .get("parent")
        .and_then(Value::as_str)
        .and_then(|p| p.split_once('/'))
    {
        let kind = kind.strip_suffix('s').unwrap_or(kind);
        out.insert("parent".into(), json!({"id": id, "type": kind}));
    }
    if let Some(id) = v3.get("projectId") {
        out.insert("projectId".into(), id.clone());
    }
    if let Some(number) = v3
        .get("name")
        .and_then(Value::as_str)
        .and_then(|n| n.strip_prefix("projects/"))
    {
        out.insert("projectNumber".into(), json!(number));
    }
    Value::Object(out)
}

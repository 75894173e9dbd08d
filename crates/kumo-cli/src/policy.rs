//! IAM allow-policy read-modify-write shared by every `*-iam-policy-binding` command: fetch the
//! policy (with its etag, so a concurrent change makes the write fail instead of being lost),
//! edit the bindings, and write it back.

use serde_json::{Value, json};

use crate::cli::Binding;
use crate::context::Ctx;
use crate::error::{CliError, Result};

/// Where a resource's policy lives; each API spells getIamPolicy differently.
pub struct PolicyApi {
    /// GET (Cloud Run, Artifact Registry) or POST (Resource Manager, IAM, IAP).
    pub get_method: &'static str,
    /// `/v1/...:getIamPolicy`.
    pub get_path: String,
    /// `/v1/...:setIamPolicy`.
    pub set_path: String,
    /// What gcloud names in "Updated IAM policy for KIND [NAME]."
    pub kind: &'static str,
    pub name: String,
}

impl PolicyApi {
    /// A resource whose IAM methods hang off `path` with the given get verb.
    pub fn at(get_method: &'static str, path: &str, kind: &'static str, name: &str) -> PolicyApi {
        PolicyApi {
            get_method,
            get_path: format!("{path}:getIamPolicy"),
            set_path: format!("{path}:setIamPolicy"),
            kind,
            name: name.to_owned(),
        }
    }
}

pub fn get(ctx: &mut Ctx<'_>, api: &PolicyApi) -> Result<Value> {
    if api.get_method == "GET" {
        ctx.call(
            "GET",
            &api.get_path,
            &[("options.requestedPolicyVersion", "3")],
            None,
        )
    } else {
        ctx.post(
            &api.get_path,
            &json!({"options": {"requestedPolicyVersion": 3}}),
        )
    }
}

pub fn set(ctx: &mut Ctx<'_>, api: &PolicyApi, policy: &Value) -> Result<Value> {
    ctx.post(&api.set_path, &json!({"policy": policy}))
}

/// Parses gcloud's `--condition`: `None`, or `expression=E,title=T[,description=D]`.
pub fn parse_condition(spec: Option<&str>) -> Result<Option<Value>> {
    let Some(spec) = spec else { return Ok(None) };
    if spec.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for part in spec.split(',') {
        match part.split_once('=') {
            Some((k, v)) if ["expression", "title", "description"].contains(&k.trim()) => {
                fields.push((k.trim().to_owned(), v.to_owned()))
            }
            // A comma inside the expression or title: glue it back on.
            _ => match fields.last_mut() {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(part);
                }
                None => return Err(bad_condition()),
            },
        }
    }
    let mut cond = serde_json::Map::new();
    for (k, v) in fields {
        cond.insert(k, Value::String(v));
    }
    if !cond.contains_key("expression") || !cond.contains_key("title") {
        return Err(bad_condition());
    }
    Ok(Some(Value::Object(cond)))
}

fn bad_condition() -> CliError {
    CliError::Usage(
        "argument --condition: expected `None` or `expression=EXPR,title=TITLE[,description=DESC]`"
            .to_owned(),
    )
}

/// Adds `member` to the binding of `role` with the same condition, creating it if needed.
pub fn add_binding(policy: &mut Value, member: &str, role: &str, condition: Option<&Value>) {
    if !policy["bindings"].is_array() {
        policy["bindings"] = json!([]);
    }
    if condition.is_some() {
        policy["version"] = json!(3);
    }
    let cond = condition.cloned().unwrap_or(Value::Null);
    if let Some(bindings) = policy["bindings"].as_array_mut() {
        for b in bindings.iter_mut() {
            if b["role"] == role && b["condition"] == cond {
                if !b["members"].is_array() {
                    b["members"] = json!([]);
                }
                if let Some(members) = b["members"].as_array_mut()
                    && !members.iter().any(|m| m == member)
                {
                    members.push(json!(member));
                }
                return;
            }
        }
        let mut b = json!({"role": role, "members": [member]});
        if !cond.is_null() {
            b["condition"] = cond;
        }
        bindings.push(b);
    }
}

/// Removes `member` from `role`'s binding (with the same condition); gcloud's error when absent.
pub fn remove_binding(
    policy: &mut Value,
    member: &str,
    role: &str,
    condition: Option<&Value>,
) -> Result<()> {
    let cond = condition.cloned().unwrap_or(Value::Null);
    let mut found = false;
    if let Some(bindings) = policy["bindings"].as_array_mut() {
        for b in bindings.iter_mut() {
            if b["role"] == role
                && b["condition"] == cond
                && let Some(members) = b["members"].as_array_mut()
            {
                let before = members.len();
                members.retain(|m| m != member);
                found |= members.len() != before;
            }
        }
        bindings.retain(|b| b["members"].as_array().is_some_and(|m| !m.is_empty()));
    }
    if found {
        Ok(())
    } else {
        Err(CliError::Msg(
            "Policy binding with the specified principal, role, and condition not found!"
                .to_owned(),
        ))
    }
}

/// The add/remove commands: read, edit, write, print as gcloud does.
pub fn change_binding(
    ctx: &mut Ctx<'_>,
    api: &PolicyApi,
    binding: &Binding,
    add: bool,
) -> Result<()> {
    let condition = parse_condition(binding.condition.as_deref())?;
    let mut policy = get(ctx, api)?;
    if add {
        add_binding(
            &mut policy,
            &binding.member,
            &binding.role,
            condition.as_ref(),
        );
    } else {
        remove_binding(
            &mut policy,
            &binding.member,
            &binding.role,
            condition.as_ref(),
        )?;
    }
    let updated = set(ctx, api, &policy)?;
    ctx.status(&format!(
        "Updated IAM policy for {} [{}].",
        api.kind, api.name
    ));
    ctx.print_one(&updated)
}

/// `get-iam-policy`.
pub fn show(ctx: &mut Ctx<'_>, api: &PolicyApi) -> Result<()> {
    let policy = get(ctx, api)?;
    ctx.print_one(&policy)
}

/// Reads a policy file (JSON or YAML), as `set-iam-policy` takes it.
pub fn read_policy_file(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Msg(format!("Unable to read file [{path}]: {e}")))?;
    crate::cmd::parse_yaml_or_json(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_idempotent_and_groups_by_role_and_condition() {
        let mut p = json!({"etag": "BwX", "bindings": [{"role": "roles/run.invoker", "members": ["user:a@x.com"]}]});
        add_binding(&mut p, "user:a@x.com", "roles/run.invoker", None);
        add_binding(&mut p, "allUsers", "roles/run.invoker", None);
        let cond = json!({"expression": "true", "title": "t"});
        add_binding(&mut p, "user:b@x.com", "roles/run.invoker", Some(&cond));
        assert_eq!(
            p,
            json!({"etag": "BwX", "version": 3, "bindings": [
                {"role": "roles/run.invoker", "members": ["user:a@x.com", "allUsers"]},
                {"role": "roles/run.invoker", "members": ["user:b@x.com"], "condition": cond}
            ]})
        );
    }

    #[test]
    fn add_to_empty_policy() {
        let mut p = json!({"etag": "ACAB"});
        add_binding(&mut p, "allUsers", "roles/run.invoker", None);
        assert_eq!(
            p,
            json!({"etag": "ACAB", "bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]})
        );
    }

    #[test]
    fn remove_drops_empty_bindings_and_reports_absence() {
        let mut p = json!({"bindings": [{"role": "r", "members": ["user:a@x.com"]}]});
        remove_binding(&mut p, "user:a@x.com", "r", None).unwrap();
        assert_eq!(p, json!({"bindings": []}));
        let e = remove_binding(&mut p, "user:a@x.com", "r", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Policy binding with the specified principal, role, and condition not found!"
        );
    }

    #[test]
    fn conditions() {
        assert_eq!(parse_condition(None).unwrap(), None);
        assert_eq!(parse_condition(Some("None")).unwrap(), None);
        assert_eq!(
            parse_condition(Some(
                "expression=request.time < timestamp('2030-01-01T00:00:00Z'),title=until 2030"
            ))
            .unwrap(),
            Some(
                json!({"expression": "request.time < timestamp('2030-01-01T00:00:00Z')", "title": "until 2030"})
            )
        );
        assert_eq!(
            parse_condition(Some("expression=a,b,title=t,description=d")).unwrap(),
            Some(json!({"expression": "a,b", "title": "t", "description": "d"}))
        );
        assert!(parse_condition(Some("title=only")).is_err());
        assert!(parse_condition(Some("junk")).is_err());
    }
}

//! gcloud's container and template flags for `run deploy|services update|jobs …`, applied to a
//! v1 (Knative) object as gcloud's `config_changes` apply them: list and dict values parsed as
//! `arg_parsers.ArgList`/`ArgDict` parse them (`^DELIM^` prefix, repeated flags merged), durations
//! as `arg_parsers.Duration` (`300`, `300s`, `5m`, `1h30m`, `PT5M`), env-var changes as
//! `EnvVarLiteralChanges` (removals first, then updates in place), labels as `LabelChanges`
//! (copied onto the template), resources, command and args onto the first container.

use serde_json::{Map, Value, json};

use super::{LOCATION_LABEL, ensure, existing};
use crate::cli::ContainerFlags;
use crate::error::{CliError, Result};

pub const CPU_THROTTLING: &str = "run.googleapis.com/cpu-throttling";
pub const CPU_BOOST: &str = "run.googleapis.com/startup-cpu-boost";
pub const EXECUTION_ENVIRONMENT: &str = "run.googleapis.com/execution-environment";

/// gcloud's `ArgList`: one flag value split on `,`, or on `D` when the value starts `^D^`.
fn split_list(value: &str) -> Result<Vec<String>> {
    let (delim, rest) = match value.strip_prefix('^').and_then(|v| v.split_once('^')) {
        Some(("", _)) => {
            return Err(CliError::Usage(
                "Invalid delimeter. Please see `gcloud topic flags-file` or `gcloud topic escaping` for information on providing list or dictionary flag values with special characters.".to_owned(),
            ));
        }
        Some((d, rest)) => (d, rest),
        None => (",", value),
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let rest = rest.strip_suffix(delim).unwrap_or(rest);
    Ok(rest.split(delim).map(str::to_owned).collect())
}

/// Every occurrence of a list flag, concatenated (gcloud's `UpdateAction` over `ArgList`).
pub fn arg_list(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        out.extend(split_list(v)?);
    }
    Ok(out)
}

/// Every occurrence of a dict flag, merged in order (gcloud's `UpdateAction` over `ArgDict`):
/// each item splits at its first `=`; a later key replaces an earlier one in place.
pub fn arg_dict(flag: &str, values: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in arg_list(values)? {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k.to_owned(), v.to_owned()),
            _ if item.is_empty() || item.starts_with('=') => {
                return Err(CliError::Usage(format!(
                    "argument --{flag}: Invalid flag value [{item}]"
                )));
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "argument --{flag}: Bad syntax for dict arg: [{item}]. Please see `gcloud topic flags-file` or `gcloud topic escaping` for information on providing list or dictionary flag values with special characters."
                )));
            }
        };
        match out.iter_mut().find(|(old, _)| *old == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Ok(out)
}

/// gcloud's `EnvVarKeyType`.
fn env_key(flag: &str, key: &str) -> Result<()> {
    let problem = if key.is_empty() {
        "Environment variable keys cannot be empty."
    } else if key.starts_with("X_GOOGLE_") {
        "Environment variable keys that start with `X_GOOGLE_` are reserved for use by deployment tools and cannot be specified manually."
    } else {
        return Ok(());
    };
    Err(CliError::Usage(format!("argument --{flag}: {problem}")))
}

/// gcloud's `arg_parsers.Duration(lower_bound='1s')` in whole seconds: a bare number is seconds;
/// otherwise ISO 8601 with `P` optional (then `M` is minutes): `10m5s`, `1h`, `PT30M`, `1d`.
pub fn duration_secs(flag: &str, value: &str) -> Result<u64> {
    let fail = |why: String| {
        CliError::Usage(format!(
            "argument --{flag}: Failed to parse duration: {why}"
        ))
    };
    let upper = value.trim().to_uppercase();
    if !upper.is_empty() && upper.chars().all(|c| c.is_ascii_digit()) {
        let secs: f64 = upper.parse().map_err(|_| fail(format!("[{value}]")))?;
        return bounded(flag, value, secs);
    }
    let mut s = upper.as_str();
    let mut t_implied = true;
    if let Some(rest) = s.strip_prefix('P') {
        s = rest;
        t_implied = false;
    }
    let mut total = 0.0_f64;
    let mut amount = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '.' || c == ',' {
            amount.push(if c == ',' { '.' } else { c });
        } else if c == 'T' {
            t_implied = true;
        } else if amount.is_empty() {
            let tail: String = chars[i..].iter().collect();
            return Err(fail(format!(
                "Duration unit '{tail}' must be preceded by a number"
            )));
        } else {
            let n: f64 = amount.parse().map_err(|_| fail(format!("[{value}]")))?;
            amount.clear();
            match c {
                'W' => total += n * 7.0 * 86_400.0,
                'D' => total += n * 86_400.0,
                'H' => {
                    t_implied = true;
                    total += n * 3_600.0;
                }
                'M' if chars.get(i + 1) == Some(&'S') && i + 2 == chars.len() => {
                    total += n / 1_000.0;
                    break;
                }
                'M' if t_implied => total += n * 60.0,
                'S' => total += n,
                _ => {
                    return Err(fail(format!("Unknown duration unit [{c}] in [{value}]")));
                }
            }
        }
        i += 1;
    }
    if !amount.is_empty() {
        return Err(fail(format!(
            "Duration must end with time part character in [{value}]"
        )));
    }
    bounded(flag, value, total)
}

fn bounded(flag: &str, value: &str, secs: f64) -> Result<u64> {
    if secs < 1.0 {
        return Err(CliError::Usage(format!(
            "argument --{flag}: value must be greater than or equal to 1s; received: {value}"
        )));
    }
    // Cloud Run's v1 timeouts are whole seconds.
    Ok(secs.ceil() as u64)
}

/// gcloud's `ScaleValue` (`--min-instances`, `--max-instances`): a count ≥ 0, or `default`.
pub fn scale_value(value: &str) -> Result<Option<u32>> {
    if value == "default" {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(n) if n < 0 => Err(CliError::Usage(format!(
            "Instance count value {value} is negative."
        ))),
        Ok(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| CliError::Usage(format!("Instance count value {value} is too large."))),
        Err(_) => Err(CliError::Usage(format!(
            "Instance count value {value} is not an integer or 'default'."
        ))),
    }
}

/// `--concurrency`: an integer > 0, or `default` (clears it).
pub fn concurrency_value(value: &str) -> Result<Option<u32>> {
    if value == "default" {
        return Ok(None);
    }
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(CliError::Usage(format!(
            "argument --concurrency: Invalid value [{value}]: must be an integer greater than 0 or \"default\"."
        ))),
    }
}

/// `--port`: 1-65535, or `default` (clears it).
pub fn port_value(value: &str) -> Result<Option<u16>> {
    if value == "default" {
        return Ok(None);
    }
    match value.parse::<u16>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(CliError::Usage(format!(
            "argument --port: Invalid value [{value}]: must be an integer between 1 and 65535, inclusive, or \"default\"."
        ))),
    }
}

/// The values of `--env-vars-file`: a `.env` file (KEY=VALUE lines) or a YAML/JSON map of strings.
fn env_file(path: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        CliError::Usage(format!(
            "argument --env-vars-file: File [{path}] does not exist."
        ))
    })?;
    if path.ends_with(".env") {
        let vars: Vec<(String, String)> = text.lines().filter_map(dotenv_line).collect();
        if vars.is_empty() {
            return Err(CliError::Usage(format!(
                "argument --env-vars-file: Invalid .env file [{path}], expected map-like data."
            )));
        }
        return Ok(vars);
    }
    let map = serde_yaml::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "argument --env-vars-file: Invalid YAML/JSON data in [{path}], expected map-like data."
            ))
        })?;
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(CliError::Usage(format!(
                "argument --env-vars-file: Environment variable values must be strings. Found {other} (type {})",
                json_type(&other)
            ))),
        })
        .collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// One line of a `.env` file as python-dotenv reads the usual forms: `[export ]KEY=VALUE`,
/// the value optionally quoted, `#` comments.
fn dotenv_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (k, v) = line.split_once('=')?;
    let v = v.trim();
    let v = if let Some(q) = v
        .strip_prefix('"')
        .and_then(|v| v.rsplit_once('"'))
        .map(|(q, _)| q.replace("\\n", "\n").replace("\\\"", "\""))
    {
        q
    } else if let Some(q) = v.strip_prefix('\'').and_then(|v| v.rsplit_once('\'')) {
        q.0.to_owned()
    } else {
        v.split(" #").next().unwrap_or("").trim_end().to_owned()
    };
    Some((k.trim().to_owned(), v))
}

/// Applies env, command, args and resource flags to a container (gcloud's container changers).
pub fn apply_container(container: &mut Value, f: &ContainerFlags) -> Result<()> {
    apply_env(container, f)?;
    if !f.command.is_empty() {
        let command = arg_list(&f.command)?;
        set_or_clear(container, "command", command);
    }
    if !f.args.is_empty() {
        let args = arg_list(&f.args)?;
        set_or_clear(container, "args", args);
    }
    for (key, value) in [("memory", &f.memory), ("cpu", &f.cpu)] {
        if let Some(v) = value {
            *ensure(container, &["resources", "limits", key]) = json!(v);
        }
    }
    Ok(())
}

/// An empty list resets the field (gcloud: "To reset this field to its default, pass an empty string").
fn set_or_clear(container: &mut Value, key: &str, values: Vec<String>) {
    if values.is_empty() {
        if let Some(m) = container.as_object_mut() {
            m.remove(key);
        }
    } else {
        *ensure(container, &[key]) = json!(values);
    }
}

fn apply_env(container: &mut Value, f: &ContainerFlags) -> Result<()> {
    let (updates, clear) = if let Some(path) = &f.env_vars_file {
        (env_file(path)?, true)
    } else if !f.set_env_vars.is_empty() {
        (arg_dict("set-env-vars", &f.set_env_vars)?, true)
    } else {
        (
            arg_dict("update-env-vars", &f.update_env_vars)?,
            f.clear_env_vars,
        )
    };
    let flag = if f.env_vars_file.is_some() {
        "env-vars-file"
    } else if f.set_env_vars.is_empty() {
        "update-env-vars"
    } else {
        "set-env-vars"
    };
    for (k, _) in &updates {
        env_key(flag, k)?;
    }
    let removes = arg_list(&f.remove_env_vars)?;
    if updates.is_empty() && removes.is_empty() && !clear {
        return Ok(());
    }
    let slot = ensure(container, &["env"]);
    if !slot.is_array() {
        *slot = json!([]);
    }
    let Some(env) = slot.as_array_mut() else {
        return Ok(());
    };
    // Only literal values are pruned; a secret reference survives --clear-env-vars.
    let literal = |e: &Value| e.get("valueFrom").is_none();
    env.retain(|e| !(literal(e) && (clear || removes.iter().any(|r| e["name"] == r.trim_start()))));
    for (k, v) in updates {
        match env.iter_mut().find(|e| e["name"] == k.as_str()) {
            Some(e) if !literal(e) => {
                return Err(CliError::Msg(format!(
                    "Cannot update environment variable [{k}] to string literal because it has already been set with a different type."
                )));
            }
            Some(e) => *e = json!({"name": k, "value": v}),
            None => env.push(json!({"name": k, "value": v})),
        }
    }
    if env.is_empty()
        && let Some(m) = container.as_object_mut()
    {
        m.remove("env");
    }
    Ok(())
}

/// gcloud's `LabelChanges`: the resource's labels change (`--labels` is `--update-labels`), and
/// the result is copied onto the template's labels (the service's labels are the source of
/// truth), keeping the template's own nonce. The location label belongs to the server.
pub fn apply_labels(
    resource: &mut Value,
    template_meta: &[&str],
    f: &ContainerFlags,
) -> Result<()> {
    let additions = if f.labels.is_empty() {
        arg_dict("update-labels", &f.update_labels)?
    } else {
        arg_dict("labels", &f.labels)?
    };
    let removes = arg_list(&f.remove_labels)?;
    if additions.is_empty() && removes.is_empty() && !f.clear_labels {
        return Ok(());
    }
    let labels = ensure(resource, &["metadata", "labels"]);
    if !labels.is_object() {
        *labels = json!({});
    }
    let Some(map) = labels.as_object_mut() else {
        return Ok(());
    };
    let location = map.get(LOCATION_LABEL).cloned();
    if f.clear_labels {
        map.clear();
    }
    for r in &removes {
        map.remove(r);
    }
    for (k, v) in additions {
        map.insert(k, json!(v));
    }
    if let Some(loc) = location {
        map.insert(LOCATION_LABEL.to_owned(), loc);
    }
    let mut copied: Map<String, Value> = map.clone();
    copied.remove(LOCATION_LABEL);
    const NONCE: &str = "client.knative.dev/nonce";
    let mut path: Vec<&str> = template_meta.to_vec();
    path.push("labels");
    let nonce = existing(resource, &path).and_then(|l| l.get(NONCE).cloned());
    if let Some(n) = nonce {
        copied.insert(NONCE.to_owned(), n);
    }
    *ensure(resource, &path) = Value::Object(copied);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_dicts_as_gcloud_splits_them() {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(arg_list(&v(&["a,b", "c"])).unwrap(), ["a", "b", "c"]);
        assert_eq!(arg_list(&v(&["^:^a,b:c"])).unwrap(), ["a,b", "c"]);
        assert!(arg_list(&v(&[""])).unwrap().is_empty());
        assert!(arg_list(&v(&["^^a"])).is_err());
        assert_eq!(
            arg_dict("x", &v(&["A=1,B=x=y", "A=2"])).unwrap(),
            [("A".into(), "2".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            arg_dict("x", &v(&["^@^LIST=a,b,c@K=v"])).unwrap(),
            [("LIST".into(), "a,b,c".into()), ("K".into(), "v".into())]
        );
        assert_eq!(
            arg_dict("x", &v(&["^:^A=1,2:B=3"])).unwrap(),
            [("A".into(), "1,2".into()), ("B".into(), "3".into())]
        );
        assert_eq!(
            arg_dict("x", &v(&["EMPTY="])).unwrap(),
            [("EMPTY".into(), String::new())]
        );
        assert!(arg_dict("x", &v(&["NOEQUALS"])).is_err());
        assert!(arg_dict("x", &v(&["A=1,,B=2"])).is_err());
    }

    #[test]
    fn durations_as_gcloud_parses_them() {
        for (s, want) in [
            ("300", 300),
            ("300s", 300),
            ("5m", 300),
            ("10m5s", 605),
            ("1h", 3600),
            ("1H30M", 5400),
            ("PT15M", 900),
            ("P1D", 86_400),
            ("1.5s", 2),
        ] {
            assert_eq!(duration_secs("timeout", s).unwrap(), want, "{s}");
        }
        for s in ["0", "0s", "abc", "5x", "m", "10m5"] {
            assert!(duration_secs("timeout", s).is_err(), "{s}");
        }
    }

    #[test]
    fn scale_port_and_concurrency_values() {
        assert_eq!(scale_value("3").unwrap(), Some(3));
        assert_eq!(scale_value("default").unwrap(), None);
        assert!(scale_value("-1").is_err());
        assert!(scale_value("x").is_err());
        assert_eq!(concurrency_value("default").unwrap(), None);
        assert!(concurrency_value("0").is_err());
        assert_eq!(port_value("8080").unwrap(), Some(8080));
        assert!(port_value("0").is_err());
        assert!(port_value("70000").is_err());
    }

    #[test]
    fn dotenv_lines() {
        assert_eq!(dotenv_line("A=1"), Some(("A".into(), "1".into())));
        assert_eq!(
            dotenv_line("export B=\"x y\""),
            Some(("B".into(), "x y".into()))
        );
        assert_eq!(dotenv_line("C='q' "), Some(("C".into(), "q".into())));
        assert_eq!(dotenv_line("# c"), None);
    }
}

//! Traffic of a service: `run services update-traffic` and the deploy flags that touch it
//! (`--tag`, `--no-traffic`, `--revision-suffix`), as gcloud's `traffic.TrafficTargets`
//! changes a v1 (Knative) `spec.traffic`: targets keyed by revision name or `LATEST`, explicit
//! percentages first, what they leave spread over the targets they do not name in proportion
//! to their shares, tags kept on targets of their own.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::flags::{arg_dict, arg_list};
use crate::cli::{TagFlags, TrafficFlags, UpdateTraffic};
use crate::error::{CliError, Result};

/// The key gcloud gives the latest ready revision's target.
pub const LATEST: &str = "LATEST";

/// Whether `svc`'s traffic names the latest revision (gcloud's `has_latest`: then a new
/// revision is routed to, and its tracker shows "Routing traffic..."). No traffic at all is
/// Cloud Run's default: all to the latest.
pub fn has_latest(svc: &Value) -> bool {
    match svc["spec"]["traffic"].as_array() {
        Some(targets) if !targets.is_empty() => targets.iter().any(|t| key_of(t) == LATEST),
        _ => true,
    }
}

/// A service's traffic as keys: each target's share and each tag's target.
#[derive(Debug, Default, PartialEq)]
struct Traffic {
    percent: BTreeMap<String, i64>,
    tags: BTreeMap<String, String>,
}

fn key_of(target: &Value) -> String {
    if target["latestRevision"] == true {
        LATEST.to_owned()
    } else {
        target["revisionName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Traffic {
    fn of(spec: &Value) -> Traffic {
        let mut traffic = Traffic::default();
        for target in spec.as_array().map(Vec::as_slice).unwrap_or_default() {
            let key = key_of(target);
            let share = target["percent"].as_i64().unwrap_or(0);
            if share > 0 {
                *traffic.percent.entry(key.clone()).or_default() += share;
            }
            if let Some(tag) = target["tag"].as_str().filter(|t| !t.is_empty()) {
                traffic.tags.insert(tag.to_owned(), key);
            }
        }
        traffic
    }

    /// As [`Traffic::of`]; no share at all is Cloud Run's default, all to `LATEST`.
    fn served(spec: &Value) -> Traffic {
        let mut traffic = Traffic::of(spec);
        if traffic.percent.is_empty() {
            traffic.percent.insert(LATEST.to_owned(), 100);
        }
        traffic
    }

    /// `spec.traffic`: shares by revision name with `LATEST` last, then one target per tag.
    fn targets(&self) -> Value {
        let target = |key: &str| {
            if key == LATEST {
                json!({"latestRevision": true})
            } else {
                json!({"revisionName": key})
            }
        };
        let mut keys: Vec<&String> = self.percent.keys().collect();
        keys.sort_by_key(|k| (k.as_str() == LATEST, k.as_str()));
        let mut out = Vec::new();
        for key in keys {
            let share = self.percent[key];
            if share > 0 {
                let mut t = target(key);
                t["percent"] = json!(share);
                out.push(t);
            }
        }
        for (tag, key) in &self.tags {
            let mut t = target(key);
            t["tag"] = json!(tag);
            out.push(t);
        }
        Value::Array(out)
    }

    /// gcloud's `UpdateTraffic`: the named shares, the rest of 100 over the other targets
    /// with traffic in proportion to what they had (largest remainder).
    fn set_shares(&mut self, named: &BTreeMap<String, i64>) -> Result<()> {
        let total: i64 = named.values().sum();
        if total > 100 {
            return Err(CliError::Msg(
                "Over 100% of traffic is specified.".to_owned(),
            ));
        }
        let others: Vec<(String, i64)> = self
            .percent
            .iter()
            .filter(|(key, share)| !named.contains_key(*key) && **share > 0)
            .map(|(key, share)| (key.clone(), *share))
            .collect();
        let left = 100 - total;
        if left > 0 && others.is_empty() {
            return Err(CliError::Msg(
                "Every target with traffic is updated but 100% of traffic has not been specified."
                    .to_owned(),
            ));
        }
        let mut percent: BTreeMap<String, i64> = named
            .iter()
            .filter(|(_, share)| **share > 0)
            .map(|(key, share)| (key.clone(), *share))
            .collect();
        let weight: i64 = others.iter().map(|(_, share)| share).sum();
        if left > 0 {
            let mut parts: Vec<(String, i64, i64)> = others
                .iter()
                .map(|(key, share)| (key.clone(), left * share / weight, left * share % weight))
                .collect();
            let mut spare = left - parts.iter().map(|(_, whole, _)| whole).sum::<i64>();
            // Largest remainder first; ties by name, as the map orders them.
            let mut order: Vec<usize> = (0..parts.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(parts[i].2));
            for i in order {
                if spare == 0 {
                    break;
                }
                parts[i].1 += 1;
                spare -= 1;
            }
            for (key, share, _) in parts {
                if share > 0 {
                    *percent.entry(key).or_default() += share;
                }
            }
        }
        self.percent = percent;
        Ok(())
    }
}

fn share(flag: &str, value: &str) -> Result<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|p| (0..=100).contains(p))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "argument {flag}: Traffic percent [{value}] must be an integer between 0 and 100."
            ))
        })
}

/// The service's `spec.traffic` after `update-traffic`'s flags.
pub fn updated(spec: &Value, u: &UpdateTraffic) -> Result<Value> {
    let mut traffic = Traffic::of(spec);
    let mut named: BTreeMap<String, i64> = BTreeMap::new();
    if u.to_latest {
        named.insert(LATEST.to_owned(), 100);
    }
    for (revision, value) in arg_dict("--to-revisions", &u.to_revisions)? {
        named.insert(revision, share("--to-revisions", &value)?);
    }
    for (tag, value) in arg_dict("--to-tags", &u.to_tags)? {
        let key = traffic
            .tags
            .get(&tag)
            .cloned()
            .ok_or_else(|| CliError::Msg(format!("Tag [{tag}] does not exist.")))?;
        *named.entry(key).or_default() += share("--to-tags", &value)?;
    }
    if !named.is_empty() {
        traffic.set_shares(&named)?;
    }
    change_tags(&mut traffic, &u.tags)?;
    Ok(traffic.targets())
}

fn change_tags(traffic: &mut Traffic, t: &TagFlags) -> Result<()> {
    if t.clear_tags {
        traffic.tags.clear();
    }
    if !t.set_tags.is_empty() {
        traffic.tags.clear();
    }
    for tag in arg_list(&t.remove_tags)? {
        traffic.tags.remove(&tag);
    }
    let given = arg_dict("--update-tags", &t.update_tags)?
        .into_iter()
        .chain(arg_dict("--set-tags", &t.set_tags)?);
    for (tag, revision) in given {
        traffic.tags.insert(tag, revision);
    }
    Ok(())
}

/// `run deploy|services update` with `--tag`, `--no-traffic` or `--revision-suffix`: names the
/// new revision (`SERVICE-SUFFIX`, else Cloud Run's `SERVICE-NNNNN-xyz` with the next number
/// after `status.latestCreatedRevisionName`), tags it, and with `--no-traffic` pins the share of
/// `LATEST` to the revision serving now. `existing`: the service as read, status included.
pub fn apply_deploy_flags(
    svc: &mut Value,
    existing: Option<&Value>,
    service: &str,
    f: &TrafficFlags,
) -> Result<()> {
    if f.no_traffic {
        let Some(existing) = existing else {
            return Err(CliError::Usage(
                "--no-traffic not supported when creating a new service.".to_owned(),
            ));
        };
        let serving = existing["status"]["latestReadyRevisionName"]
            .as_str()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                CliError::Msg(
                    "--no-traffic needs a revision that serves now; this service has none."
                        .to_owned(),
                )
            })?;
        let mut traffic = Traffic::served(&svc["spec"]["traffic"]);
        if let Some(latest) = traffic.percent.remove(LATEST) {
            *traffic.percent.entry(serving.to_owned()).or_default() += latest;
        }
        for key in traffic.tags.values_mut() {
            if key == LATEST {
                serving.clone_into(key);
            }
        }
        svc["spec"]["traffic"] = traffic.targets();
    }
    if f.tag.is_none() && f.revision_suffix.is_none() {
        return Ok(());
    }
    let revision = match &f.revision_suffix {
        Some(suffix) => format!("{service}-{suffix}"),
        None => next_revision_name(service, existing),
    };
    svc["spec"]["template"]["metadata"]["name"] = json!(revision);
    if let Some(tag) = &f.tag {
        let mut traffic = Traffic::served(&svc["spec"]["traffic"]);
        traffic.tags.insert(tag.clone(), revision);
        svc["spec"]["traffic"] = traffic.targets();
    }
    Ok(())
}

/// Cloud Run's revision name for the next revision: `SERVICE-NNNNN-xyz`.
fn next_revision_name(service: &str, existing: Option<&Value>) -> String {
    let number = existing
        .and_then(|e| e["status"]["latestCreatedRevisionName"].as_str())
        .and_then(|r| {
            r.strip_prefix(service)?
                .strip_prefix('-')?
                .split('-')
                .next()
        })
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let suffix: String = (0..3)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    format!("{service}-{number:05}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(args: &[&str]) -> UpdateTraffic {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            u: UpdateTraffic,
        }
        let mut argv = vec!["p", "svc"];
        argv.extend_from_slice(args);
        P::try_parse_from(argv).unwrap().u
    }

    #[test]
    fn shares_named_then_the_rest_in_proportion() {
        let s = json!([{"latestRevision": true, "percent": 100}]);
        // Everything to one revision.
        assert_eq!(
            updated(&s, &update(&["--to-revisions", "svc-00001-abc=100"])).unwrap(),
            json!([{"revisionName": "svc-00001-abc", "percent": 100}])
        );
        // A split: the rest stays with LATEST.
        assert_eq!(
            updated(&s, &update(&["--to-revisions", "svc-00001-abc=10"])).unwrap(),
            json!([{"revisionName": "svc-00001-abc", "percent": 10}, {"latestRevision": true, "percent": 90}])
        );
        // The rest spread over the unnamed targets by their shares, largest remainder first.
        let three = json!([
            {"revisionName": "a", "percent": 50},
            {"revisionName": "b", "percent": 25},
            {"revisionName": "c", "percent": 25}
        ]);
        assert_eq!(
            updated(&three, &update(&["--to-revisions", "a=1"])).unwrap(),
            json!([{"revisionName": "a", "percent": 1}, {"revisionName": "b", "percent": 50}, {"revisionName": "c", "percent": 49}])
        );
        assert_eq!(
            updated(&three, &update(&["--to-latest"])).unwrap(),
            json!([{"latestRevision": true, "percent": 100}])
        );
    }

    #[test]
    fn share_errors_are_gclouds() {
        let s = json!([{"revisionName": "a", "percent": 100}]);
        let err = |args: &[&str]| updated(&s, &update(args)).unwrap_err().to_string();
        assert_eq!(
            err(&["--to-revisions", "a=60,b=50"]),
            "Over 100% of traffic is specified."
        );
        assert_eq!(
            err(&["--to-revisions", "a=50"]),
            "Every target with traffic is updated but 100% of traffic has not been specified."
        );
        assert!(err(&["--to-revisions", "a=x"]).contains("must be an integer between 0 and 100"));
        assert_eq!(err(&["--to-tags", "blue=10"]), "Tag [blue] does not exist.");
    }

    #[test]
    fn tags_are_set_updated_removed_and_route_shares() {
        let s = json!([
            {"latestRevision": true, "percent": 100},
            {"revisionName": "svc-00001-abc", "tag": "blue"}
        ]);
        let moved = updated(&s, &update(&["--to-tags", "blue=20"])).unwrap();
        assert_eq!(
            moved,
            json!([
                {"revisionName": "svc-00001-abc", "percent": 20},
                {"latestRevision": true, "percent": 80},
                {"revisionName": "svc-00001-abc", "tag": "blue"}
            ])
        );
        let tagged = updated(&s, &update(&["--update-tags", "green=svc-00002-xyz"])).unwrap();
        assert_eq!(
            tagged[2],
            json!({"revisionName": "svc-00002-xyz", "tag": "green"})
        );
        assert_eq!(tagged.as_array().unwrap().len(), 3);
        let removed = updated(&s, &update(&["--remove-tags", "blue"])).unwrap();
        assert_eq!(removed, json!([{"latestRevision": true, "percent": 100}]));
        let set = updated(&s, &update(&["--set-tags", "x=svc-00002-xyz"])).unwrap();
        assert_eq!(set[1], json!({"revisionName": "svc-00002-xyz", "tag": "x"}));
        assert_eq!(set.as_array().unwrap().len(), 2);
        let cleared = updated(&s, &update(&["--clear-tags"])).unwrap();
        assert_eq!(cleared, json!([{"latestRevision": true, "percent": 100}]));
    }

    #[test]
    fn deploy_flags_name_tag_and_pin() {
        let existing = json!({
            "spec": {"traffic": [{"latestRevision": true, "percent": 100}]},
            "status": {"latestReadyRevisionName": "svc-00002-abc", "latestCreatedRevisionName": "svc-00002-abc"}
        });
        let mut svc = json!({"spec": existing["spec"].clone()});
        let flags = TrafficFlags {
            tag: Some("green".into()),
            no_traffic: true,
            revision_suffix: None,
            async_: false,
        };
        apply_deploy_flags(&mut svc, Some(&existing), "svc", &flags).unwrap();
        let name = svc["spec"]["template"]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            name.starts_with("svc-00003-") && name.len() == "svc-00003-xyz".len(),
            "{name}"
        );
        assert_eq!(
            svc["spec"]["traffic"],
            json!([{"revisionName": "svc-00002-abc", "percent": 100}, {"revisionName": name, "tag": "green"}])
        );
        let mut fresh = json!({"spec": {}});
        let suffixed = TrafficFlags {
            tag: Some("v1".into()),
            no_traffic: false,
            revision_suffix: Some("first".into()),
            async_: false,
        };
        apply_deploy_flags(&mut fresh, None, "svc", &suffixed).unwrap();
        assert_eq!(fresh["spec"]["template"]["metadata"]["name"], "svc-first");
        assert_eq!(
            fresh["spec"]["traffic"],
            json!([{"latestRevision": true, "percent": 100}, {"revisionName": "svc-first", "tag": "v1"}])
        );
        let no_traffic = TrafficFlags {
            no_traffic: true,
            ..TrafficFlags::default()
        };
        assert_eq!(
            apply_deploy_flags(&mut json!({}), None, "svc", &no_traffic)
                .unwrap_err()
                .to_string(),
            "--no-traffic not supported when creating a new service."
        );
    }
}

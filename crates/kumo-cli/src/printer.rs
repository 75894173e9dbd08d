//! gcloud's custom human-readable printers for Cloud Run resources (`run services describe`,
//! `run revisions describe` without `--format`): the marker layout of
//! `core/resource/custom_printer_base.py` (Lines, Labeled, Mapped, Section; values of a Labeled
//! column aligned across nested tables, label columns capped at 20 characters, 60 inside the
//! route section) and the transforms of `command_lib/run/printers` (service, revision,
//! traffic, container).

use serde_json::Value;

use crate::format::render_scalar;

/// How far a nested marker is indented (`INDENT_STEP`).
const INDENT_STEP: usize = 2;
/// `CustomPrinterBase.MAX_COLUMN_WIDTH`.
const MAX_COLUMN_WIDTH: usize = 20;

enum Cell {
    Text(String),
    Marker(Marker),
}

enum Item {
    Text(String),
    Marker(Marker),
}

enum Marker {
    Lines(Vec<Item>),
    /// `Table` (and its `Labeled`/`Mapped` forms): rows whose last cell may be a marker.
    Table {
        rows: Vec<Vec<Cell>>,
        separator: &'static str,
        skip_empty: bool,
    },
    /// An alignment break with its own column widths.
    Section {
        lines: Vec<Item>,
        max: usize,
    },
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn labeled(rows: Vec<(&str, Cell)>) -> Marker {
    Marker::Table {
        rows: rows.into_iter().map(|(k, v)| vec![text(k), v]).collect(),
        separator: ":",
        skip_empty: true,
    }
}

fn mapped(rows: Vec<(String, Cell)>) -> Marker {
    Marker::Table {
        rows: rows.into_iter().map(|(k, v)| vec![text(k), v]).collect(),
        separator: "",
        skip_empty: false,
    }
}

impl Marker {
    /// Python truthiness of the object, as `_FollowedByEmpty` tests it: empty lists are false.
    fn truthy(&self) -> bool {
        match self {
            Marker::Lines(l) => !l.is_empty(),
            Marker::Table { rows, .. } => !rows.is_empty(),
            Marker::Section { .. } => true,
        }
    }

    fn will_print(&self) -> bool {
        match self {
            Marker::Lines(lines) | Marker::Section { lines, .. } => lines.iter().any(|l| match l {
                Item::Text(_) => true,
                Item::Marker(m) => m.will_print(),
            }),
            Marker::Table {
                rows, skip_empty, ..
            } => rows.iter().any(|r| !skip_row(r, *skip_empty)),
        }
    }

    /// The minimum width of each column (column 0 includes the indentation), merged over
    /// nested tables; a Section contributes nothing outside itself.
    fn widths(&self, max: usize, indent: usize, out: &mut Vec<usize>) {
        match self {
            Marker::Lines(lines) => {
                for l in lines {
                    if let Item::Marker(m) = l {
                        m.widths(max, indent, out);
                    }
                }
            }
            Marker::Section { .. } => {}
            Marker::Table {
                rows,
                separator,
                skip_empty,
            } => {
                for row in rows {
                    let last = row.len().saturating_sub(1);
                    for (i, cell) in row.iter().enumerate() {
                        match cell {
                            Cell::Marker(m) => m.widths(max, indent + INDENT_STEP, out),
                            Cell::Text(t) => {
                                let is_last = i == last
                                    || (*skip_empty && followed_by_empty(row, i))
                                    || matches!(row.get(i + 1), Some(Cell::Marker(_)));
                                let width = if is_last {
                                    0
                                } else {
                                    t.chars().count()
                                        + separator.len()
                                        + if i == 0 { indent } else { 0 }
                                };
                                set_width(out, i, width.min(max));
                            }
                        }
                    }
                }
            }
        }
    }

    fn print(&self, out: &mut String, indent: usize, widths: &[usize]) {
        match self {
            Marker::Lines(lines) => print_lines(lines, out, indent, widths),
            Marker::Section { lines, max } => {
                let mut own = Vec::new();
                for l in lines {
                    if let Item::Marker(m) = l {
                        m.widths(*max, indent, &mut own);
                    }
                }
                print_lines(lines, out, indent, &own);
            }
            Marker::Table {
                rows,
                separator,
                skip_empty,
            } => {
                for row in rows {
                    if skip_row(row, *skip_empty) {
                        continue;
                    }
                    let n = row.len();
                    let mut cols = Vec::new();
                    for (i, cell) in row.iter().enumerate().take(n - 1) {
                        if let Cell::Text(t) = cell {
                            cols.push(column(t, i, n, separator, indent, widths));
                        }
                    }
                    match &row[n - 1] {
                        Cell::Marker(m) => {
                            write_line(out, indent, cols.join(" ").trim_end());
                            m.print(out, indent + INDENT_STEP, widths);
                        }
                        Cell::Text(t) => {
                            cols.push(column(t, n - 1, n, separator, indent, widths));
                            write_line(out, indent, cols.join(" ").trim_end());
                        }
                    }
                }
            }
        }
    }
}

fn print_lines(lines: &[Item], out: &mut String, indent: usize, widths: &[usize]) {
    for l in lines {
        match l {
            Item::Marker(m) => m.print(out, indent, widths),
            Item::Text(t) if !t.is_empty() => write_line(out, indent, t),
            Item::Text(_) => {}
        }
    }
}

fn set_width(out: &mut Vec<usize>, i: usize, width: usize) {
    if out.len() <= i {
        out.resize(i + 1, 0);
    }
    out[i] = out[i].max(width);
}

fn followed_by_empty(row: &[Cell], i: usize) -> bool {
    !row.iter().skip(i + 1).any(|c| match c {
        Cell::Text(t) => !t.is_empty(),
        Cell::Marker(m) => m.truthy(),
    })
}

fn skip_row(row: &[Cell], skip_empty: bool) -> bool {
    let no_output = matches!(row.get(1), Some(Cell::Marker(m)) if !m.will_print());
    row.is_empty() || (skip_empty && (followed_by_empty(row, 0) || no_output))
}

fn column(t: &str, i: usize, n: usize, sep: &str, indent: usize, widths: &[usize]) -> String {
    let mut width = widths.get(i).copied().unwrap_or(0);
    if i == 0 {
        width = width.saturating_sub(indent);
    }
    let sep = if i + 1 < n { sep } else { "" };
    let pad = width.saturating_sub(t.chars().count() + sep.len());
    format!("{t}{sep}{}", " ".repeat(pad))
}

fn write_line(out: &mut String, indent: usize, line: &str) {
    out.push_str(&" ".repeat(indent));
    out.push_str(line);
    out.push('\n');
}

fn render(m: &Marker) -> String {
    let mut widths = Vec::new();
    m.widths(MAX_COLUMN_WIDTH, 0, &mut widths);
    let mut out = String::new();
    m.print(&mut out, 0, &widths);
    out
}

// ------------------------------------------------------------------------------ transforms

fn st(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => render_scalar(other),
    }
}

fn ann<'v>(v: &'v Value, key: &str) -> &'v Value {
    &v["metadata"]["annotations"][key]
}

/// Labels a user set (`k8s_object.INTERNAL_GROUPS` hidden), `k:v` sorted, space-separated.
/// UNCONFIRMED: the exact INTERNAL_GROUPS tuple; these are the prefixes Cloud Run objects carry.
fn user_labels(labels: &Value) -> String {
    const INTERNAL: [&str; 6] = [
        "client.knative.dev",
        "serving.knative.dev",
        "autoscaling.knative.dev",
        "features.knative.dev",
        "run.googleapis.com",
        "cloud.googleapis.com",
    ];
    let mut out: Vec<String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !INTERNAL.iter().any(|p| k.starts_with(p)))
                .map(|(k, v)| format!("{k}:{}", st(v)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.join(" ")
}

fn ready_condition(v: &Value) -> Option<&Value> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// `ReadySymbolAndColor`: a Service serving an older revision than it created shows `!`, a
/// Revision that is not ready shows `!`.
pub fn ready_symbol(v: &Value, kind: &str) -> &'static str {
    let status = &v["status"];
    match ready_condition(v).and_then(|c| c["status"].as_str()) {
        Some("True") => "✔",
        _ if kind == "Revision" => "!",
        Some("False")
            if status["latestReadyRevisionName"].is_string()
                && status["latestCreatedRevisionName"] != status["latestReadyRevisionName"] =>
        {
            "!"
        }
        Some("False") => "X",
        _ => "…",
    }
}

fn header(v: &Value, kind: &str) -> String {
    let place = match v["metadata"]["labels"]["cloud.googleapis.com/location"].as_str() {
        Some(r) => format!("region {r}"),
        None => format!("namespace {}", st(&v["metadata"]["namespace"])),
    };
    format!(
        "{} {kind} {} in {place}",
        ready_symbol(v, kind),
        st(&v["metadata"]["name"])
    )
}

/// `FormatReadyMessage`: the Ready condition's message after the status symbol, filled to 100
/// columns by [`fill`].
fn ready_message(v: &Value, kind: &str) -> String {
    match ready_condition(v).and_then(|c| c["message"].as_str()) {
        Some(m) if !m.is_empty() => fill(&format!("{} {m}", ready_symbol(v, kind)), 100),
        _ => String::new(),
    }
}

/// Python's `textwrap.fill` with its defaults: whitespace becomes spaces (runs kept), lines
/// break between chunks, whitespace at line edges is dropped, and a word longer than the width
/// is cut to fill the line. UNCONFIRMED: textwrap also breaks after hyphens between letters
/// (`break_on_hyphens`); words stay whole at hyphens here.
fn fill(text: &str, width: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut chunks: Vec<String> = Vec::new();
    for c in text.chars() {
        match chunks.last_mut() {
            Some(last) if last.starts_with(' ') == (c == ' ') => last.push(c),
            _ => chunks.push(c.to_string()),
        }
    }
    chunks.reverse();
    let is_space = |c: &String| c.starts_with(' ');
    let len = |c: &String| c.chars().count();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        if !lines.is_empty() && chunks.last().is_some_and(is_space) {
            chunks.pop();
        }
        let mut line: Vec<String> = Vec::new();
        let mut used = 0;
        while let Some(c) = chunks.pop() {
            if used + len(&c) <= width {
                used += len(&c);
                line.push(c);
            } else {
                chunks.push(c);
                break;
            }
        }
        if let Some(long) = chunks.pop() {
            if len(&long) > width {
                let room = width.saturating_sub(used).max(1);
                let head: String = long.chars().take(room).collect();
                let tail: String = long.chars().skip(room).collect();
                line.push(head);
                chunks.push(tail);
            } else {
                chunks.push(long);
            }
        }
        if line.last().is_some_and(is_space) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines.join("\n")
}

fn probe(p: &Value, probe_type: &str) -> Cell {
    if !p.is_object() {
        return text("");
    }
    let (action, port, path) = if p["grpc"].is_object() {
        ("GRPC", st(&p["grpc"]["port"]), String::new())
    } else if p["tcpSocket"].is_object() {
        ("TCP", st(&p["tcpSocket"]["port"]), String::new())
    } else if p["httpGet"].is_object() {
        ("HTTP", String::new(), st(&p["httpGet"]["path"]))
    } else {
        ("TCP", String::new(), String::new())
    };
    // Python formats a missing value as None.
    let or_none = |v: &Value| {
        if v.is_null() {
            "None".to_owned()
        } else {
            st(v)
        }
    };
    let delay = match st(&p["initialDelaySeconds"]).as_str() {
        "" | "0" => "0".to_owned(),
        d => d.to_owned(),
    };
    Cell::Marker(Marker::Lines(vec![
        Item::Text(format!("{action} every {}s", or_none(&p["periodSeconds"]))),
        Item::Marker(labeled(vec![
            ("Path", text(path)),
            ("Port", text(port)),
            ("Initial delay", text(format!("{delay}s"))),
            (
                "Timeout",
                text(format!("{}s", or_none(&p["timeoutSeconds"]))),
            ),
            ("Failure threshold", text(or_none(&p["failureThreshold"]))),
            ("Type", text(probe_type)),
        ])),
    ]))
}

fn container(c: &Value, template_labels: &Value, primary: bool) -> Marker {
    let join = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(st).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let env = c["env"].as_array().cloned().unwrap_or_default();
    let mut literals: Vec<(String, Cell)> = env
        .iter()
        .filter(|e| e["valueFrom"].is_null())
        .map(|e| (st(&e["name"]), text(st(&e["value"]))))
        .collect();
    literals.sort_by(|a, b| a.0.cmp(&b.0));
    let mut secrets: Vec<(String, Cell)> = env
        .iter()
        .filter(|e| e["valueFrom"]["secretKeyRef"].is_object())
        .map(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            (
                st(&e["name"]),
                text(format!("{}:{}", st(&r["name"]), st(&r["key"]))),
            )
        })
        .collect();
    secrets.sort_by(|a, b| a.0.cmp(&b.0));
    let probe_type = if primary {
        st(&template_labels["run.googleapis.com/startupProbeType"])
    } else {
        String::new()
    };
    let ports = c["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| st(&p["containerPort"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    labeled(vec![
        ("Image", text(st(&c["image"]))),
        ("Command", text(join(&c["command"]))),
        ("Args", text(join(&c["args"]))),
        ("Port", text(ports)),
        ("Memory", text(st(&c["resources"]["limits"]["memory"]))),
        ("CPU", text(st(&c["resources"]["limits"]["cpu"]))),
        ("Env vars", Cell::Marker(mapped(literals))),
        ("Secrets", Cell::Marker(mapped(secrets))),
        ("Startup Probe", probe(&c["startupProbe"], &probe_type)),
        ("Liveness Probe", probe(&c["livenessProbe"], "")),
    ])
}

/// `container_util.GetContainers`: one `Container NAME` entry per container, by name.
fn containers(spec: &Value, labels: &Value) -> Marker {
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    let mut named: Vec<(String, &Value)> = containers
        .iter()
        .map(|c| {
            // A container without a name prints as Python's None, as gcloud shows it.
            let name = c["name"].as_str().unwrap_or("None").to_owned();
            (name, c)
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let single = named.len() == 1;
    let rows = named
        .into_iter()
        .map(|(name, c)| {
            let primary = single || c["ports"].as_array().is_some_and(|p| !p.is_empty());
            (
                format!("Container {name}"),
                Cell::Marker(container(c, labels, primary)),
            )
        })
        .collect();
    mapped(rows)
}

/// `RevisionPrinter.TransformSpec` over a Knative revision template (`metadata` + `spec`).
fn transform_spec(t: &Value) -> Marker {
    let spec = &t["spec"];
    let first = &spec["containers"][0];
    let a = |k: &str| st(ann(t, k));
    let cpu = match a("run.googleapis.com/cpu-throttling").as_str() {
        "" => String::new(),
        v if v.eq_ignore_ascii_case("false") => "CPU is always allocated".to_owned(),
        _ => "CPU is only allocated during request processing".to_owned(),
    };
    let env = match a("run.googleapis.com/execution-environment").as_str() {
        "gen1" => "First Generation".to_owned(),
        "gen2" => "Second Generation".to_owned(),
        other => other.to_owned(),
    };
    let http2 = first["ports"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["name"] == "h2c"));
    let vpc = a("run.googleapis.com/vpc-access-connector");
    let vpc = if vpc.is_empty() {
        text("")
    } else {
        Cell::Marker(labeled(vec![
            ("Connector", text(vpc)),
            ("Egress", text(a("run.googleapis.com/vpc-access-egress"))),
        ]))
    };
    let timeout = match &spec["timeoutSeconds"] {
        Value::Null => String::new(),
        t => format!("{}s", st(t)),
    };
    Marker::Lines(vec![
        Item::Marker(containers(spec, &t["metadata"]["labels"])),
        Item::Marker(labeled(vec![
            ("Service account", text(st(&spec["serviceAccountName"]))),
            ("Concurrency", text(st(&spec["containerConcurrency"]))),
            ("Min Instances", text(a("autoscaling.knative.dev/minScale"))),
            ("Max Instances", text(a("autoscaling.knative.dev/maxScale"))),
            (
                "SQL connections",
                text(a("run.googleapis.com/cloudsql-instances").replace(',', ", ")),
            ),
            ("Timeout", text(timeout)),
            ("VPC access", vpc),
            (
                "CMEK",
                text(
                    a("run.googleapis.com/encryption-key")
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                ),
            ),
            ("HTTP/2 Enabled", text(if http2 { "Enabled" } else { "" })),
            ("CPU Allocation", text(cpu)),
            ("Execution Environment", text(env)),
            (
                "Session Affinity",
                text(a("run.googleapis.com/sessionAffinity")),
            ),
        ])),
    ])
}

/// gcloud's key of a traffic target (`traffic.GetKey`): `LATEST` or the revision name
/// (revision names are lowercase, so the two never collide).
const LATEST_KEY: &str = "LATEST";

fn traffic_key(t: &Value) -> String {
    if t["latestRevision"] == true {
        LATEST_KEY.to_owned()
    } else {
        st(&t["revisionName"])
    }
}

/// A tag of a traffic pair: shown `(Adding)` while only the spec has it and `(Deleting)` while
/// only the status does (`traffic_printer._GetTagAndStatus`).
struct TrafficTag {
    tag: String,
    url: String,
    in_spec: bool,
    in_status: bool,
}

impl TrafficTag {
    fn display(&self) -> String {
        match (self.in_spec, self.in_status) {
            (true, false) => format!("  {} (Adding):", self.tag),
            (false, true) => format!("  {} (Deleting):", self.tag),
            _ => format!("  {}:", self.tag),
        }
    }
}

/// `traffic_pair.TrafficTargetPair`: the spec and status targets naming one revision (or the
/// latest ready one), so a change still rolling out shows as `50% (currently 100%)`.
struct TrafficPair {
    latest: bool,
    revision: String,
    spec: Vec<Value>,
    status: Vec<Value>,
    /// The share of a combined status target (see [`traffic_pairs`]).
    status_override: Option<i64>,
    tags: Vec<TrafficTag>,
}

fn percent_sum(targets: &[Value]) -> i64 {
    targets.iter().filter_map(|t| t["percent"].as_i64()).sum()
}

/// `traffic_pair._FormatPercentage`: `-` for a side that has no target.
fn format_percent(p: Option<i64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p}%"))
}

impl TrafficPair {
    fn spec_percent(&self) -> Option<i64> {
        (!self.spec.is_empty()).then(|| percent_sum(&self.spec))
    }

    fn status_percent(&self) -> Option<i64> {
        self.status_override
            .or_else(|| (!self.status.is_empty()).then(|| percent_sum(&self.status)))
    }

    /// `displayPercent`: one figure when spec and status agree, else `'{:4} (currently {})'`.
    fn display_percent(&self) -> String {
        let (spec, status) = (self.spec_percent(), self.status_percent());
        if spec == status {
            format_percent(status)
        } else {
            format!(
                "{:<4} (currently {})",
                format_percent(spec),
                format_percent(status)
            )
        }
    }

    fn display_revision(&self) -> String {
        if self.latest {
            format!("{LATEST_KEY} (currently {})", self.revision)
        } else {
            self.revision.clone()
        }
    }
}

/// `traffic_pair.GetTrafficTargetPairs` for fully managed Cloud Run: spec and status targets
/// grouped by key; a status that names the latest ready revision only by name (managed Cloud Run
/// combines its `latestRevision` and by-name shares into one target) is split back into the
/// LATEST share (at most the spec's LATEST percent) and the rest. Sorted by revision name with
/// LATEST last.
fn traffic_pairs(v: &Value) -> Vec<TrafficPair> {
    use std::collections::BTreeMap;
    let group = |targets: &Value| {
        let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for t in targets.as_array().map(Vec::as_slice).unwrap_or_default() {
            by_key.entry(traffic_key(t)).or_default().push(t.clone());
        }
        by_key
    };
    let spec = group(&v["spec"]["traffic"]);
    let mut status = group(&v["status"]["traffic"]);
    let latest_ready = st(&v["status"]["latestReadyRevisionName"]);
    let mut combined = false;
    if spec.contains_key(LATEST_KEY)
        && !status.contains_key(LATEST_KEY)
        && let Some(by_name) = status.get(&latest_ready).cloned()
    {
        status.insert(LATEST_KEY.to_owned(), by_name);
        if spec.contains_key(&latest_ready) {
            combined = true;
        } else {
            status.remove(&latest_ready);
        }
    }
    let mut keys: Vec<&String> = spec.keys().chain(status.keys()).collect();
    keys.sort_by_key(|k| (k.as_str() == LATEST_KEY, k.as_str()));
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let spec_targets = spec.get(key).cloned().unwrap_or_default();
            let status_targets = status.get(key).cloned().unwrap_or_default();
            let latest = key == LATEST_KEY;
            let status_override = (combined && (latest || *key == latest_ready)).then(|| {
                let combined_percent = percent_sum(&status_targets);
                let by_latest =
                    percent_sum(spec.get(LATEST_KEY).map(Vec::as_slice).unwrap_or_default())
                        .min(combined_percent);
                if latest {
                    by_latest
                } else {
                    combined_percent - by_latest
                }
            });
            let mut tags: BTreeMap<String, TrafficTag> = BTreeMap::new();
            for (targets, from_spec) in [(&spec_targets, true), (&status_targets, false)] {
                for t in targets {
                    let Some(tag) = t["tag"].as_str().filter(|t| !t.is_empty()) else {
                        continue;
                    };
                    let entry = tags.entry(tag.to_owned()).or_insert_with(|| TrafficTag {
                        tag: tag.to_owned(),
                        url: String::new(),
                        in_spec: false,
                        in_status: false,
                    });
                    if from_spec {
                        entry.in_spec = true;
                    } else {
                        entry.in_status = true;
                        entry.url = st(&t["url"]);
                    }
                }
            }
            TrafficPair {
                latest,
                revision: if latest {
                    latest_ready.clone()
                } else {
                    key.clone()
                },
                spec: spec_targets,
                status: status_targets,
                status_override,
                tags: tags.into_values().collect(),
            }
        })
        .collect()
}

/// `traffic_printer.TransformRouteFields`: URL, Ingress, and one line per traffic target
/// pair (spec and status paired as `traffic_pair.GetTrafficTargetPairs` pairs them).
fn route_fields(v: &Value) -> Marker {
    let spec_ingress = ann(v, "run.googleapis.com/ingress");
    let status_ingress = ann(v, "run.googleapis.com/ingress-status");
    let ingress = if spec_ingress == status_ingress {
        st(spec_ingress)
    } else {
        let or_dash = |v: &Value| {
            let s = st(v);
            if s.is_empty() { "-".to_owned() } else { s }
        };
        format!(
            "{} (currently {})",
            or_dash(spec_ingress),
            or_dash(status_ingress)
        )
    };
    let rows: Vec<Vec<Cell>> = traffic_pairs(v)
        .iter()
        .map(|p| {
            let tags = p
                .tags
                .iter()
                .map(|t| vec![text(""), text(t.display()), text(t.url.clone())])
                .collect();
            vec![
                text(p.display_percent()),
                text(p.display_revision()),
                Cell::Marker(Marker::Table {
                    rows: tags,
                    separator: "",
                    skip_empty: false,
                }),
            ]
        })
        .collect();
    let traffic = Marker::Section {
        lines: vec![Item::Marker(Marker::Table {
            rows,
            separator: "",
            skip_empty: false,
        })],
        max: MAX_COLUMN_WIDTH,
    };
    Marker::Section {
        lines: vec![
            Item::Marker(labeled(vec![("URL", text(st(&v["status"]["url"])))])),
            Item::Marker(labeled(vec![("Ingress", text(ingress))])),
            Item::Marker(labeled(vec![("Traffic", Cell::Marker(traffic))])),
        ],
        max: 60,
    }
}

/// `gcloud run services update-traffic`'s output: the URL, ingress and traffic lines of
/// `describe`.
pub fn traffic(v: &Value) -> String {
    render(&Marker::Lines(vec![Item::Marker(route_fields(v))]))
}

/// `gcloud run services describe` without `--format`, from a Knative v1 Service.
pub fn service(v: &Value) -> String {
    let settings = {
        let mut rows = vec![Item::Marker(labeled(vec![
            (
                "Binary Authorization",
                text(st(ann(v, "run.googleapis.com/binary-authorization"))),
            ),
            (
                "Service-level Min Instances",
                text(st(ann(v, "run.googleapis.com/minScale"))),
            ),
        ]))];
        if let Some(d) = ann(v, "run.googleapis.com/description").as_str() {
            rows.push(Item::Marker(labeled(vec![("Description", text(d))])));
        }
        Marker::Section {
            lines: rows,
            max: MAX_COLUMN_WIDTH,
        }
    };
    let spacer = if settings.will_print() { " " } else { "" };
    let template = &v["spec"]["template"];
    let last_updated = match v["status"].is_object() {
        false => "Unknown update information".to_owned(),
        true => {
            let when = ready_condition(v)
                .map(|c| st(&c["lastTransitionTime"]))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "?".to_owned());
            let who = ann(v, "serving.knative.dev/lastModifier")
                .as_str()
                .unwrap_or("?")
                .to_owned();
            format!("Last updated on {when} by {who}")
        }
    };
    let revision = Marker::Lines(vec![
        Item::Text(format!(
            "Revision {}",
            st(&v["status"]["latestCreatedRevisionName"])
        )),
        Item::Text(user_labels(&template["metadata"]["labels"])),
        Item::Marker(transform_spec(template)),
    ]);
    render(&Marker::Lines(vec![
        Item::Text(header(v, "Service")),
        Item::Text(user_labels(&v["metadata"]["labels"])),
        Item::Text(" ".to_owned()),
        Item::Marker(route_fields(v)),
        Item::Text(" ".to_owned()),
        Item::Marker(settings),
        Item::Text(spacer.to_owned()),
        Item::Marker(Marker::Table {
            rows: vec![vec![text(last_updated), Cell::Marker(revision)]],
            separator: ":",
            skip_empty: true,
        }),
        Item::Text(ready_message(v, "Service")),
    ]))
}

/// `gcloud run revisions describe` without `--format`, from a v1 (Knative) Revision.
pub fn revision(v: &Value) -> String {
    let v = v.clone();
    render(&Marker::Lines(vec![
        Item::Text(header(&v, "Revision")),
        Item::Text(user_labels(&v["metadata"]["labels"])),
        Item::Text(" ".to_owned()),
        Item::Marker(transform_spec(&v)),
        Item::Text(ready_message(&v, "Revision")),
    ]))
}

/// `FormatDurationShort`: `1d2h3m4s` with zero parts left out.
fn duration_short(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect()
}

fn plural(word: &str, count: i64) -> String {
    format!("{count} {word}{}", if count == 1 { "" } else { "s" })
}

/// `gcloud run jobs describe` without `--format` (`JobPrinter`), from a v1 Job.
pub fn job(v: &Value) -> String {
    let status = &v["status"];
    let mut lines = vec![Item::Text(header(v, "Job"))];
    if status.is_object() {
        lines.push(Item::Text(format!(
            "Executed {}",
            plural("time", status["executionCount"].as_i64().unwrap_or(0))
        )));
        let latest = &status["latestCreatedExecution"];
        if latest.is_object() {
            lines.push(Item::Text(format!(
                "Last executed {} with execution {}",
                st(&latest["creationTimestamp"]),
                st(&latest["name"])
            )));
        }
        // UNCONFIRMED: gcloud's last_modified_timestamp; the Ready condition's transition
        // time is when the job last changed.
        let when = ready_condition(v)
            .map(|c| st(&c["lastTransitionTime"]))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "?".to_owned());
        let who = ann(v, "serving.knative.dev/lastModifier")
            .as_str()
            .or(ann(v, "run.googleapis.com/lastModifier").as_str())
            .unwrap_or("?")
            .to_owned();
        lines.push(Item::Text(format!("Last updated on {when} by {who}")));
    }
    lines.push(Item::Text(" ".to_owned()));
    let labels = user_labels(&v["metadata"]["labels"]);
    if !labels.is_empty() {
        lines.push(Item::Text(labels));
        lines.push(Item::Text(" ".to_owned()));
    }
    let execution = &v["spec"]["template"];
    let task = &execution["spec"]["template"];
    let task_spec = &task["spec"];
    let parallelism = match execution["spec"]["parallelism"].as_i64() {
        Some(p) if p > 0 => p.to_string(),
        _ => "No limit".to_owned(),
    };
    let timeout = task_spec["timeoutSeconds"]
        .as_u64()
        .or_else(|| task_spec["timeoutSeconds"].as_str()?.parse().ok())
        .filter(|t| *t > 0)
        .map(duration_short)
        .unwrap_or_default();
    let task_ann = |k: &str| st(&task["metadata"]["annotations"][k]);
    let vpc = task_ann("run.googleapis.com/vpc-access-connector");
    let vpc = if vpc.is_empty() {
        text("")
    } else {
        Cell::Marker(labeled(vec![
            ("Connector", text(vpc)),
            (
                "Egress",
                text(task_ann("run.googleapis.com/vpc-access-egress")),
            ),
        ]))
    };
    lines.push(Item::Marker(Marker::Lines(vec![
        Item::Marker(labeled(vec![
            ("Tasks", text(st(&execution["spec"]["taskCount"]))),
            ("Parallelism", text(parallelism)),
        ])),
        Item::Marker(Marker::Lines(vec![
            Item::Marker(containers(task_spec, &task["metadata"]["labels"])),
            Item::Marker(labeled(vec![
                ("Task Timeout", text(timeout)),
                ("Max Retries", text(st(&task_spec["maxRetries"]))),
                (
                    "Service account",
                    text(st(&task_spec["serviceAccountName"])),
                ),
                ("VPC access", vpc),
                (
                    "SQL connections",
                    text(task_ann("run.googleapis.com/cloudsql-instances").replace(',', ", ")),
                ),
            ])),
        ])),
        Item::Marker(labeled(vec![(
            "Binary Authorization",
            text(st(ann(v, "run.googleapis.com/binary-authorization"))),
        )])),
    ])));
    let ready = ready_message(v, "Job");
    if !ready.is_empty() {
        lines.push(Item::Text(ready));
    }
    render(&Marker::Lines(lines))
}

/// `ExecutionPrinter._elapsedTime`: hours and minutes, minutes and seconds, or seconds.
fn elapsed(start: &str, end: &str) -> Option<String> {
    let start = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    // timedelta.seconds: the part below one day.
    let total = (end - start).num_seconds().rem_euclid(86_400);
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    Some(if h > 0 {
        format!("{} and {}", plural("hour", h), plural("minute", m))
    } else if m > 0 {
        format!("{} and {}", plural("minute", m), plural("second", s))
    } else {
        plural("second", s)
    })
}

/// `gcloud run jobs executions describe` without `--format` (`ExecutionPrinter`), from a v1
/// Execution.
pub fn execution(e: &Value) -> String {
    let status = &e["status"];
    let completed = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Completed"));
    let state = completed
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown");
    // The view the shared helpers read: its Completed condition as the Ready one.
    let view = serde_json::json!({
        "metadata": e["metadata"],
        "status": {"conditions": [{
            "type": "Ready", "status": state,
            "message": completed.map(|c| c["message"].clone()).unwrap_or(Value::Null)
        }]}
    });
    let count = |k: &str| status[k].as_i64().unwrap_or(0);
    let mut lines = vec![Item::Text(header(&view, "Execution"))];
    if state == "Unknown" {
        lines.push(Item::Text(format!(
            "{} currently running",
            plural("task", count("runningCount"))
        )));
    }
    lines.push(Item::Text(format!(
        "{} completed successfully",
        plural("task", count("succeededCount"))
    )));
    if count("failedCount") > 0 {
        lines.push(Item::Text(format!(
            "{} failed to complete",
            plural("task", count("failedCount"))
        )));
    }
    if count("cancelledCount") > 0 {
        lines.push(Item::Text(format!(
            "{} cancelled",
            plural("task", count("cancelledCount"))
        )));
    }
    if let (Some(start), Some(end)) = (
        e["metadata"]["creationTimestamp"].as_str(),
        status["completionTime"].as_str(),
    ) && let Some(took) = elapsed(start, end)
    {
        lines.push(Item::Text(format!("Elapsed time: {took}")));
    }
    if let Some(uri) = status["logUri"].as_str().filter(|u| !u.is_empty()) {
        lines.push(Item::Text(" ".to_owned()));
        lines.push(Item::Text(format!("Log URI: {uri}")));
    }
    lines.push(Item::Text(" ".to_owned()));
    let labels = user_labels(&e["metadata"]["labels"]);
    if !labels.is_empty() {
        lines.push(Item::Text(labels));
        lines.push(Item::Text(" ".to_owned()));
    }
    let spec = &e["spec"];
    let task_spec = &spec["template"]["spec"];
    let parallelism = match spec["parallelism"].as_i64() {
        Some(p) if p > 0 => p.to_string(),
        _ => "No limit".to_owned(),
    };
    let timeout = task_spec["timeoutSeconds"]
        .as_u64()
        .or_else(|| task_spec["timeoutSeconds"].as_str()?.parse().ok())
        .filter(|t| *t > 0)
        .map(duration_short)
        .unwrap_or_default();
    lines.push(Item::Marker(Marker::Lines(vec![
        Item::Marker(labeled(vec![
            ("Tasks", text(st(&spec["taskCount"]))),
            ("Parallelism", text(parallelism)),
        ])),
        Item::Marker(Marker::Lines(vec![
            Item::Marker(containers(task_spec, &Value::Null)),
            Item::Marker(labeled(vec![
                ("Task Timeout", text(timeout)),
                ("Max Retries", text(st(&task_spec["maxRetries"]))),
                (
                    "Service account",
                    text(st(&task_spec["serviceAccountName"])),
                ),
            ])),
        ])),
    ])));
    let ready = ready_message(&view, "Execution");
    if !ready.is_empty() {
        lines.push(Item::Text(ready));
    }
    render(&Marker::Lines(lines))
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fill_wraps_like_textwrap() {
        // Expected values are Python 3's textwrap.fill(text, width).
        let cases = [
            ("a b  c", 100, "a b  c"),
            ("aaa bbb ccc", 7, "aaa bbb\nccc"),
            ("aaaaaaaaaa b", 4, "aaaa\naaaa\naa b"),
            ("x aaaaaaaaaa", 4, "x aa\naaaa\naaaa"),
            ("one two\tthree", 9, "one two\nthree"),
            ("", 10, ""),
        ];
        for (text, width, expected) in cases {
            assert_eq!(fill(text, width), expected, "{text:?} at {width}");
        }
    }
}

#[cfg(test)]
mod traffic_tests {
    use serde_json::{Value, json};

    use super::traffic_pairs;

    fn rows(v: &Value) -> Vec<(String, String, Vec<String>)> {
        traffic_pairs(v)
            .iter()
            .map(|p| {
                (
                    p.display_percent(),
                    p.display_revision(),
                    p.tags.iter().map(|t| t.display()).collect(),
                )
            })
            .collect()
    }

    fn row(percent: &str, revision: &str) -> (String, String, Vec<String>) {
        (percent.to_owned(), revision.to_owned(), vec![])
    }

    #[test]
    fn settled_traffic_shows_one_figure() {
        let v = json!({
            "spec": {"traffic": [{"latestRevision": true, "percent": 100}]},
            "status": {"latestReadyRevisionName": "s-00002-abc",
                       "traffic": [{"revisionName": "s-00002-abc", "latestRevision": true, "percent": 100}]}
        });
        assert_eq!(
            rows(&v),
            vec![row("100%", "LATEST (currently s-00002-abc)")]
        );
    }

    #[test]
    fn a_split_rolling_out_pairs_spec_with_status() {
        // The spec asks for 50/50; the status still routes everything to the old revision.
        let v = json!({
            "spec": {"traffic": [
                {"revisionName": "s-00001-old", "percent": 50},
                {"latestRevision": true, "percent": 50}
            ]},
            "status": {"latestReadyRevisionName": "s-00002-new", "traffic": [
                {"revisionName": "s-00001-old", "percent": 100}
            ]}
        });
        assert_eq!(
            rows(&v),
            vec![
                row("50%  (currently 100%)", "s-00001-old"),
                row("50%  (currently -)", "LATEST (currently s-00002-new)"),
            ]
        );
    }

    #[test]
    fn managed_combined_latest_target_is_split() {
        // Managed Cloud Run reports LATEST (30) and the latest revision by name (20) as one
        // status target of 50 naming the revision; gcloud splits it back.
        let v = json!({
            "spec": {"traffic": [
                {"revisionName": "s-00001-old", "percent": 50},
                {"revisionName": "s-00002-new", "percent": 20},
                {"latestRevision": true, "percent": 30}
            ]},
            "status": {"latestReadyRevisionName": "s-00002-new", "traffic": [
                {"revisionName": "s-00001-old", "percent": 50},
                {"revisionName": "s-00002-new", "percent": 50}
            ]}
        });
        assert_eq!(
            rows(&v),
            vec![
                row("50%", "s-00001-old"),
                row("20%", "s-00002-new"),
                row("30%", "LATEST (currently s-00002-new)"),
            ]
        );
        // Without a by-name spec target the whole status share belongs to LATEST.
        let v = json!({
            "spec": {"traffic": [{"latestRevision": true, "percent": 100}]},
            "status": {"latestReadyRevisionName": "s-00002-new", "traffic": [
                {"revisionName": "s-00002-new", "percent": 100}
            ]}
        });
        assert_eq!(
            rows(&v),
            vec![row("100%", "LATEST (currently s-00002-new)")]
        );
    }

    #[test]
    fn tags_being_added_or_removed_are_marked() {
        let v = json!({
            "spec": {"traffic": [
                {"latestRevision": true, "percent": 100},
                {"revisionName": "s-00001-old", "percent": 0, "tag": "green"},
                {"revisionName": "s-00001-old", "percent": 0, "tag": "kept"}
            ]},
            "status": {"latestReadyRevisionName": "s-00002-new", "traffic": [
                {"revisionName": "s-00002-new", "latestRevision": true, "percent": 100},
                {"revisionName": "s-00001-old", "percent": 0, "tag": "blue", "url": "http://blue---s"},
                {"revisionName": "s-00001-old", "percent": 0, "tag": "kept", "url": "http://kept---s"}
            ]}
        });
        assert_eq!(
            rows(&v),
            vec![
                (
                    "0%".to_owned(),
                    "s-00001-old".to_owned(),
                    vec![
                        "  blue (Deleting):".to_owned(),
                        "  green (Adding):".to_owned(),
                        "  kept:".to_owned()
                    ]
                ),
                row("100%", "LATEST (currently s-00002-new)"),
            ]
        );
    }
}

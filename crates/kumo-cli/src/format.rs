//! Output formats as gcloud spells them: `json`, `yaml`, `export`, `value(...)`, `table(...)`,
//! `csv(...)`, `none`, with dotted key projections (`status.url`, `metadata.annotations`,
//! `'run.googleapis.com/ingress'`, `status.conditions[0].type`).

use serde_json::Value;

use crate::error::CliError;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A projected column: a key path and an optional `:label=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub path: Vec<Seg>,
    pub label: Option<String>,
    /// gcloud's `.basename()` transform: the last `/` segment.
    pub basename: bool,
}

impl Column {
    /// The rendered cell for one resource.
    fn cell(&self, item: &Value) -> String {
        let text = lookup(item, &self.path)
            .map(render_scalar)
            .unwrap_or_default();
        if self.basename {
            text.rsplit('/').next().unwrap_or_default().to_owned()
        } else {
            text
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// YAML without output-only fields, suitable for `replace`.
    Export,
    Value(Vec<Column>),
    Table {
        columns: Vec<Column>,
        heading: bool,
    },
    Csv {
        columns: Vec<Column>,
        heading: bool,
    },
    None,
}

impl Format {
    /// Parses a `--format` argument.
    pub fn parse(spec: &str) -> Result<Format, CliError> {
        let spec = spec.trim();
        let (name, rest) = match spec.find(['(', '[']) {
            Some(i) => (&spec[..i], &spec[i..]),
            None => (spec, ""),
        };
        let (attrs, rest) = if let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| bad_format(spec, "unterminated `[`"))?;
            (&stripped[..end], &stripped[end + 1..])
        } else {
            ("", rest)
        };
        let heading = !attrs.split(',').any(|a| a.trim() == "no-heading");
        let columns = if rest.is_empty() {
            Vec::new()
        } else {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| bad_format(spec, "expected `(...)` after the format name"))?;
            parse_columns(inner).map_err(|m| bad_format(spec, &m))?
        };
        let needs_columns = |f: Format| {
            if columns.is_empty() {
                Err(bad_format(
                    spec,
                    "this format needs a projection, e.g. value(metadata.name)",
                ))
            } else {
                Ok(f)
            }
        };
        match name {
            "json" => Ok(Format::Json),
            "yaml" => Ok(Format::Yaml),
            "export" => Ok(Format::Export),
            "none" => Ok(Format::None),
            "value" => needs_columns(Format::Value(columns.clone())),
            "table" => needs_columns(Format::Table {
                columns: columns.clone(),
                heading,
            }),
            "csv" => needs_columns(Format::Csv {
                columns: columns.clone(),
                heading,
            }),
            _ => Err(bad_format(
                spec,
                "unknown format; use json, yaml, export, value(...), table(...), csv(...) or none",
            )),
        }
    }
}

fn bad_format(spec: &str, why: &str) -> CliError {
    CliError::Usage(format!("argument --format: invalid format `{spec}`: {why}"))
}

/// Splits `a.b:label=X, c` at top-level commas (commas inside quotes do not split).
fn parse_columns(inner: &str) -> Result<Vec<Column>, String> {
    let mut columns = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ',') => {
                columns.push(parse_column(&current)?);
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_owned());
    }
    if !current.trim().is_empty() {
        columns.push(parse_column(&current)?);
    }
    Ok(columns)
}

fn parse_column(text: &str) -> Result<Column, String> {
    let text = text.trim();
    // Attributes follow the first `:` outside quotes.
    let mut quote = None;
    let mut split = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ':') => {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let (key, attrs) = match split {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let mut label = None;
    for attr in attrs.split(':') {
        if let Some(l) = attr.trim().strip_prefix("label=") {
            label = Some(l.trim_matches(['\'', '"']).to_owned());
        }
    }
    let (key, basename) = match key.trim().strip_suffix(".basename()") {
        Some(k) => (k, true),
        None => (key, false),
    };
    Ok(Column {
        path: parse_path(key)?,
        label,
        basename,
    })
}

/// Parses `a.b[0].'x.y'` into segments.
pub fn parse_path(key: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let chars: Vec<char> = key.trim().chars().collect();
    let mut i = 0;
    let mut word = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("unterminated quote in `{key}`"))?;
                word.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
            '.' => {
                if !word.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut word)));
                }
            }
            '[' => {
                if !word.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut word)));
                }
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == ']')
                    .ok_or_else(|| format!("unterminated `[` in `{key}`"))?;
                let index: String = chars[i + 1..i + 1 + end].iter().collect();
                let n = index
                    .parse::<usize>()
                    .map_err(|_| format!("bad index `[{index}]` in `{key}`"))?;
                segs.push(Seg::Index(n));
                i += end + 2;
                continue;
            }
            '(' | ')' => {
                return Err(format!(
                    "unsupported transform in `{key}` (only .basename() is supported)"
                ));
            }
            c => word.push(c),
        }
        i += 1;
    }
    if !word.is_empty() {
        segs.push(Seg::Key(word));
    }
    if segs.is_empty() {
        return Err("empty key".to_owned());
    }
    Ok(segs)
}

/// Follows a path; a missing step yields `None`.
pub fn lookup<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut v = value;
    for seg in path {
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(n), Value::Array(a)) => a.get(*n)?,
            _ => return None,
        };
    }
    Some(v)
}

/// gcloud's scalar rendering: strings bare, booleans in Python spelling, maps as `k=v;k=v`,
/// lists joined by `;`, null as empty.
pub fn render_scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(render_scalar)
            .collect::<Vec<_>>()
            .join(";"),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", render_scalar(v)))
            .collect::<Vec<_>>()
            .join(";"),
    }
}

fn header_of(column: &Column) -> String {
    if let Some(l) = &column.label {
        return l.clone();
    }
    let last = column.path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    });
    let mut out = String::new();
    for c in last.unwrap_or("").chars() {
        if c.is_uppercase() {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Lays out rows as gcloud's tables: left-aligned, two spaces between columns, no trailing blanks.
pub fn layout_table(header: Option<&[String]>, rows: &[Vec<String>]) -> String {
    let all: Vec<&[String]> = header
        .into_iter()
        .chain(rows.iter().map(Vec::as_slice))
        .collect();
    let ncols = all.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for row in &all {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Output-only fields that `--format export` drops so the YAML can be fed to `replace`.
fn strip_for_export(value: &Value) -> Value {
    let mut v = value.clone();
    if let Value::Object(m) = &mut v {
        m.remove("status");
        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
            for key in [
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "selfLink",
                "namespace",
            ] {
                meta.remove(key);
            }
            if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
                for key in [
                    "serving.knative.dev/creator",
                    "serving.knative.dev/lastModifier",
                    "run.googleapis.com/operation-id",
                    "run.googleapis.com/creator",
                    "run.googleapis.com/lastModifier",
                ] {
                    ann.remove(key);
                }
            }
        }
    }
    v
}

fn to_yaml(value: &Value) -> Result<String, CliError> {
    serde_yaml::to_string(value).map_err(|e| CliError::Msg(format!("cannot render YAML: {e}")))
}

/// Renders one resource.
pub fn render_one(format: &Format, value: &Value) -> Result<String, CliError> {
    render_many(format, std::slice::from_ref(value), false)
}

/// Renders resources; `is_list` chooses a JSON array and `---`-separated YAML as gcloud does.
pub fn render_many(format: &Format, items: &[Value], is_list: bool) -> Result<String, CliError> {
    Ok(match format {
        Format::None => String::new(),
        Format::Json => {
            let text = if is_list {
                serde_json::to_string_pretty(items)
            } else {
                serde_json::to_string_pretty(items.first().unwrap_or(&Value::Null))
            };
            let mut s = text.map_err(|e| CliError::Msg(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
        Format::Yaml | Format::Export => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if is_list && i > 0 {
                    out.push_str("---\n");
                }
                let v = if *format == Format::Export {
                    strip_for_export(item)
                } else {
                    item.clone()
                };
                out.push_str(&to_yaml(&v)?);
            }
            out
        }
        Format::Value(columns) => {
            let mut out = String::new();
            for item in items {
                let cells: Vec<String> = columns.iter().map(|c| c.cell(item)).collect();
                out.push_str(cells.join("\t").trim_end());
                out.push('\n');
            }
            out
        }
        Format::Table { columns, heading } => {
            let header: Vec<String> = columns.iter().map(header_of).collect();
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| columns.iter().map(|c| c.cell(item)).collect())
                .collect();
            if rows.is_empty() {
                String::new()
            } else {
                layout_table(heading.then_some(header.as_slice()), &rows)
            }
        }
        Format::Csv { columns, heading } => {
            let mut out = String::new();
            if *heading {
                let header: Vec<String> = columns
                    .iter()
                    .map(|c| header_of(c).to_lowercase())
                    .collect();
                out.push_str(&header.join(","));
                out.push('\n');
            }
            for item in items {
                let cells: Vec<String> = columns.iter().map(|c| csv_cell(&c.cell(item))).collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            out
        }
    })
}

#[cfg(test)]
mod tests;

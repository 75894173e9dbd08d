//! Output formats as gcloud spells them: `json`, `yaml`, `export`, `value(...)`, `table(...)`,
//! `csv(...)`, `none`, each optionally with a projection (`json(status.url)` prints only the
//! projected keys). Keys are looked up as gcloud's `resource_property.Get` does: the key, then
//! its camelCase, then its snake_case (`project_number` finds `projectNumber`); `[N]` (negative
//! from the end), `[]` and `['a.b']` index; a key on a list of objects selects from each. A
//! leading key that names a column label of the command's default table (`PROJECT_NUMBER`) is
//! that column's key, as gcloud composes the default and the user's format; see [`Keys`].
//! Transforms (`gcloud topic projections`): `basename()`, `segment([N])`, `scope([NAME…])`,
//! `firstof(KEY,…)`, `join([SEP])`, `split([SEP])`, `date([FORMAT])`, `yesno([yes=…][,no=…])`,
//! `len()`.

use serde_json::{Map, Value};

use crate::error::CliError;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    /// `[N]`; negative counts from the end.
    Index(i64),
    /// `[]`: every element.
    Slice,
}

/// A transform call: `name(args)`. Arguments keep their text (quotes removed); `k=v` arguments
/// are keyword arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub name: String,
    pub args: Vec<String>,
}

/// The transforms Kumo knows (gcloud's names).
const TRANSFORMS: &[&str] = &[
    "basename", "segment", "scope", "firstof", "join", "split", "date", "yesno", "len",
];

/// A projected key: a path, transforms applied left to right, and an optional `:label=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub path: Vec<Seg>,
    pub transforms: Vec<Transform>,
    pub label: Option<String>,
}

/// What a command adds to key lookups. `labels`: its default table's column labels (gcloud
/// registers each label as an alias of its column's key, so `value(PROJECT_NUMBER)` and
/// `--filter=PROJECT_ID=p` work). `attrs`: names gcloud's resource wrapper objects answer
/// besides the API fields (a Cloud Run object's `name`, `region`, `author`, …); tried when the
/// resource has no such field. Both map a name to a key expression.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys {
    pub labels: &'static [(&'static str, &'static str)],
    pub attrs: &'static [(&'static str, &'static str)],
}

impl Keys {
    pub const NONE: Keys = Keys {
        labels: &[],
        attrs: &[],
    };

    /// The key expression a leading name stands for, if it is a label or a wrapper attribute
    /// the resource does not have as a field.
    fn expand(&self, first: &str, item: &Value, labels: bool) -> Option<Column> {
        let from_label = labels
            .then(|| self.labels.iter().find(|(l, _)| *l == first))
            .flatten();
        let found = from_label.or_else(|| {
            if matching_key(item, first).is_some() {
                return None;
            }
            self.attrs.iter().find(|(a, _)| *a == first)
        });
        found.and_then(|(_, expr)| parse_column(expr).ok())
    }

    /// Evaluates a column over `item`: alias expansion of the leading key, lookup, transforms.
    pub fn eval(&self, column: &Column, item: &Value, labels: bool) -> Value {
        let resolved = self.resolve(column, item, labels);
        let value = get(item, &resolved.path);
        apply_transforms(&resolved.transforms, value, item)
    }

    /// `column` with its leading label/attribute replaced by the key it stands for.
    pub fn resolve(&self, column: &Column, item: &Value, labels: bool) -> Column {
        let Some(Seg::Key(first)) = column.path.first() else {
            return column.clone();
        };
        match self.expand(first, item, labels) {
            Some(alias) => {
                let rest = &column.path[1..];
                let mut path = alias.path.clone();
                path.extend(rest.iter().cloned());
                // The alias's transforms apply when the name is used alone, as a column.
                let transforms = if rest.is_empty() && column.transforms.is_empty() {
                    alias.transforms
                } else {
                    column.transforms.clone()
                };
                Column {
                    path,
                    transforms,
                    label: column.label.clone().or_else(|| Some(first.clone())),
                }
            }
            None => column.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// JSON; with a projection, only the projected keys.
    Json(Vec<Column>),
    Yaml(Vec<Column>),
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
    pub const YAML: Format = Format::Yaml(Vec::new());

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
        match name.trim() {
            "json" => Ok(Format::Json(columns)),
            "yaml" => Ok(Format::Yaml(columns)),
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

/// Splits at top-level `sep` characters (not inside quotes, brackets or parentheses).
fn split_top(text: &str, sep: char) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '(' | '[') => {
                depth += 1;
                current.push(c);
            }
            (None, ')' | ']') => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unmatched `{c}` in `{text}`"))?;
                current.push(c);
            }
            (None, c) if c == sep && depth == 0 => parts.push(std::mem::take(&mut current)),
            (None, c) => current.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_owned());
    }
    if depth != 0 {
        return Err(format!("unterminated `(` or `[` in `{text}`"));
    }
    parts.push(current);
    Ok(parts)
}

/// Splits `a.b:label=X, c` into columns.
fn parse_columns(inner: &str) -> Result<Vec<Column>, String> {
    split_top(inner, ',')?
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| parse_column(c))
        .collect()
}

/// One column: a key expression, then `:attr` parts (`label=X` is kept; others are accepted).
pub fn parse_column(text: &str) -> Result<Column, String> {
    let parts = split_top(text.trim(), ':')?;
    let key = parts.first().map(String::as_str).unwrap_or_default();
    let mut label = None;
    for attr in &parts[1..] {
        if let Some(l) = attr.trim().strip_prefix("label=") {
            label = Some(unquote(l.trim()));
        }
    }
    let (path, transforms) = parse_key_expr(key)?;
    Ok(Column {
        path,
        transforms,
        label,
    })
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    t.to_owned()
}

/// Parses `a.b[0].'x.y'.segment(3)` into a path and transforms. A bare `firstof(a,b)` is a
/// transform on the whole resource (empty path).
pub fn parse_key_expr(key: &str) -> Result<(Vec<Seg>, Vec<Transform>), String> {
    // `.` alone is the whole resource (`value(.)`).
    if key.trim() == "." {
        return Ok((Vec::new(), Vec::new()));
    }
    let chars: Vec<char> = key.trim().chars().collect();
    let mut segs = Vec::new();
    let mut transforms: Vec<Transform> = Vec::new();
    let mut i = 0;
    let mut word = String::new();
    let mut quoted = false;
    let flush = |word: &mut String, quoted: &mut bool, segs: &mut Vec<Seg>| {
        if !word.is_empty() || *quoted {
            segs.push(Seg::Key(std::mem::take(word)));
        }
        *quoted = false;
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("unterminated quote in `{key}`"))?;
                word.extend(&chars[i + 1..i + 1 + end]);
                quoted = true;
                i += end + 2;
                continue;
            }
            '.' => {
                if !transforms.is_empty() && !word.is_empty() {
                    return Err(format!("a key cannot follow a transform in `{key}`"));
                }
                flush(&mut word, &mut quoted, &mut segs);
            }
            '[' => {
                if !transforms.is_empty() {
                    return Err(format!("an index cannot follow a transform in `{key}`"));
                }
                flush(&mut word, &mut quoted, &mut segs);
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == ']')
                    .ok_or_else(|| format!("unterminated `[` in `{key}`"))?;
                let index: String = chars[i + 1..i + 1 + end].iter().collect();
                let index = index.trim();
                segs.push(if index.is_empty() {
                    Seg::Slice
                } else if let Ok(n) = index.parse::<i64>() {
                    Seg::Index(n)
                } else if index.starts_with(['\'', '"']) {
                    Seg::Key(unquote(index))
                } else if index
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-./".contains(c))
                {
                    Seg::Key(index.to_owned())
                } else {
                    return Err(format!("bad index `[{index}]` in `{key}`"));
                });
                i += end + 2;
                continue;
            }
            '(' => {
                let name = std::mem::take(&mut word);
                if name.is_empty() || quoted {
                    return Err(format!("a transform needs a name in `{key}`"));
                }
                if !TRANSFORMS.contains(&name.as_str()) {
                    return Err(format!("unknown transform function [{name}] in `{key}`"));
                }
                // The matching `)`, quotes respected.
                let mut depth = 0usize;
                let mut quote = None;
                let mut end = None;
                for (j, &d) in chars.iter().enumerate().skip(i) {
                    match (quote, d) {
                        (Some(q), d) if d == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(d),
                        (None, '(') => depth += 1,
                        (None, ')') => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| format!("unterminated `(` in `{key}`"))?;
                let inner: String = chars[i + 1..end].iter().collect();
                let args = if inner.trim().is_empty() {
                    Vec::new()
                } else {
                    split_top(&inner, ',')?
                        .iter()
                        .map(|a| match a.split_once('=') {
                            Some((k, v)) if !k.trim().starts_with(['\'', '"']) => {
                                format!("{}={}", k.trim(), unquote(v))
                            }
                            _ => unquote(a),
                        })
                        .collect()
                };
                transforms.push(Transform { name, args });
                i = end + 1;
                continue;
            }
            ')' | ']' => return Err(format!("unmatched `{c}` in `{key}`")),
            c if c.is_whitespace() => {}
            c => {
                if !transforms.is_empty() && word.is_empty() && chars.get(i - 1) != Some(&'.') {
                    return Err(format!("unexpected `{c}` after a transform in `{key}`"));
                }
                word.push(c);
            }
        }
        i += 1;
    }
    if !word.is_empty() || quoted {
        if !transforms.is_empty() {
            return Err(format!("a key cannot follow a transform in `{key}`"));
        }
        segs.push(Seg::Key(word));
    }
    if segs.is_empty() && transforms.is_empty() {
        return Err("empty key".to_owned());
    }
    Ok((segs, transforms))
}

/// Parses a plain key path (no transforms).
pub fn parse_path(key: &str) -> Result<Vec<Seg>, String> {
    let (path, transforms) = parse_key_expr(key)?;
    if !transforms.is_empty() {
        return Err(format!("`{key}` is not a plain key"));
    }
    Ok(path)
}

/// gcloud's `ConvertToCamelCase`: `project_number` → `projectNumber` (Python's `str.title()`
/// on each later part).
pub fn camel_case(name: &str) -> String {
    let mut parts = name.split('_');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// gcloud's `ConvertToSnakeCase`: `projectNumber` → `project_number`, `HTTPServer` →
/// `http_server`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_lower_or_digit = prev.is_lowercase() || prev.is_ascii_digit();
            // `_` before an uppercase run that follows a lowercase letter or digit, and before
            // the last capital of a run that starts a new word.
            let starts_run = prev_lower_or_digit;
            let ends_run = prev.is_uppercase() && next_lower;
            if starts_run || ends_run {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// gcloud's `GetMatchingIndex` on an object: the key, its camelCase, its snake_case.
fn matching_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let m = value.as_object()?;
    m.get(key)
        .or_else(|| m.get(&camel_case(key)))
        .or_else(|| m.get(&snake_case(key)))
}

/// gcloud's `resource_property.Get` over JSON: a missing step yields `Null`.
pub fn get(value: &Value, path: &[Seg]) -> Value {
    let Some((seg, rest)) = path.split_first() else {
        return value.clone();
    };
    match (seg, value) {
        (Seg::Key(k), Value::Object(_)) => {
            matching_key(value, k).map_or(Value::Null, |v| get(v, rest))
        }
        (Seg::Slice, Value::Object(m)) => {
            if rest.is_empty() {
                value.clone()
            } else {
                Value::Array(m.values().map(|v| get(v, rest)).collect())
            }
        }
        (Seg::Slice, Value::Array(items)) => {
            if rest.is_empty() {
                value.clone()
            } else {
                Value::Array(items.iter().map(|v| get(v, rest)).collect())
            }
        }
        (Seg::Index(n), Value::Array(items)) => {
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let i = if *n < 0 { len + n } else { *n };
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map_or(Value::Null, |v| get(v, rest))
        }
        // `conditions.type`: an implicit slice over a list of objects that have the key.
        (Seg::Key(k), Value::Array(items))
            if items.first().is_some_and(|f| matching_key(f, k).is_some()) =>
        {
            Value::Array(items.iter().map(|v| get(v, path)).collect())
        }
        _ => Value::Null,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// Percent-decoding, as `urllib.parse.unquote`; invalid escapes stay as they are.
fn unquote_url(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Positional argument `i` or keyword argument `name`.
fn arg<'a>(t: &'a Transform, i: usize, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    t.args
        .iter()
        .find_map(|a| a.strip_prefix(&prefix))
        .or_else(|| {
            t.args
                .iter()
                .filter(|a| {
                    !a.split_once('=')
                        .is_some_and(|(k, _)| k.chars().all(|c| c.is_alphanumeric() || c == '_'))
                })
                .nth(i)
                .map(String::as_str)
        })
}

/// `str()` of a value as Python prints it inside transforms.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::String(s) => s.clone(),
        other => render_scalar(other),
    }
}

fn apply_transforms(transforms: &[Transform], mut value: Value, item: &Value) -> Value {
    for t in transforms {
        value = apply_transform(t, value, item);
    }
    value
}

fn apply_transform(t: &Transform, r: Value, _item: &Value) -> Value {
    let undefined = || Value::String(arg(t, usize::MAX, "undefined").unwrap_or("").to_owned());
    match t.name.as_str() {
        "basename" => {
            if is_empty(&r) {
                return undefined();
            }
            let base = |s: &str| {
                s.rfind(['/', '\\'])
                    .map_or(s.to_owned(), |i| s[i + 1..].to_owned())
            };
            match &r {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|i| Value::String(base(&py_str(i))))
                        .collect(),
                ),
                other => Value::String(base(&py_str(other))),
            }
        }
        "segment" => {
            if is_empty(&r) {
                return undefined();
            }
            let text = unquote_url(&py_str(&r));
            let segments: Vec<&str> = text.split('/').collect();
            let index = arg(t, 0, "index")
                .and_then(|i| i.trim().parse::<i64>().ok())
                .unwrap_or(-1);
            let len = i64::try_from(segments.len()).unwrap_or(i64::MAX);
            let i = if index < 0 { len + index } else { index };
            match usize::try_from(i).ok().and_then(|i| segments.get(i)) {
                Some(s) if !s.is_empty() => Value::String((*s).to_owned()),
                _ => undefined(),
            }
        }
        "scope" => {
            if is_empty(&r) {
                return Value::String(String::new());
            }
            let text = unquote_url(&py_str(&r));
            if !text.contains('/') {
                return Value::String(text);
            }
            let defaults = ["regions".to_owned(), "zones".to_owned()];
            let scopes: &[String] = if t.args.is_empty() {
                &defaults
            } else {
                &t.args
            };
            for scope in scopes {
                let segment = format!("/{scope}/");
                if let Some(i) = text.rfind(&segment) {
                    return Value::String(text[i + segment.len()..].to_owned());
                }
            }
            if text.starts_with("https://") {
                return Value::String(text.rsplit('/').next().unwrap_or_default().to_owned());
            }
            Value::String(text)
        }
        "firstof" => {
            for key in &t.args {
                if let Ok(path) = parse_path(key) {
                    let v = get(&r, &path);
                    if !v.is_null() {
                        return v;
                    }
                }
            }
            Value::String(String::new())
        }
        "join" => {
            let sep = arg(t, 0, "sep").unwrap_or("/");
            let parts: Vec<String> = match &r {
                Value::Array(items) => items.iter().map(py_str).collect(),
                Value::String(s) => s.chars().map(String::from).collect(),
                Value::Object(m) => m.keys().cloned().collect(),
                _ => return undefined(),
            };
            let joined = parts.join(sep);
            if joined.is_empty() {
                undefined()
            } else {
                Value::String(joined)
            }
        }
        "split" => {
            let sep = arg(t, 0, "sep").unwrap_or("/");
            match &r {
                Value::String(s) if !s.is_empty() && !sep.is_empty() => {
                    Value::Array(s.split(sep).map(|p| Value::String(p.to_owned())).collect())
                }
                _ => undefined(),
            }
        }
        "date" => {
            let fmt = arg(t, 0, "format").unwrap_or("%Y-%m-%dT%H:%M:%S");
            let unit = arg(t, 1, "unit")
                .and_then(|u| u.parse::<f64>().ok())
                .filter(|u| *u != 0.0)
                .unwrap_or(1.0);
            format_date(&r, fmt, unit).map_or_else(undefined, Value::String)
        }
        "yesno" => {
            let yes = arg(t, 0, "yes");
            let no = arg(t, 1, "no").unwrap_or("No");
            if is_empty(&r) {
                Value::String(no.to_owned())
            } else {
                yes.map_or(r, |y| Value::String(y.to_owned()))
            }
        }
        "len" => Value::from(match &r {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            Value::String(s) => s.chars().count(),
            _ => 0,
        }),
        _ => r,
    }
}

/// `date()`: an RFC 3339 string or a number of `unit`s since the epoch, in `fmt` (strftime);
/// a time with a UTC offset of zero prints `%Z` as `UTC`. `None` when `r` is no time or `fmt`
/// is no valid strftime format.
fn format_date(r: &Value, fmt: &str, unit: f64) -> Option<String> {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(fmt).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return None;
    }
    let seconds = match r {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    if let Some(secs) = seconds {
        let secs = secs / unit;
        let whole = secs.floor();
        // Whole seconds fit i64 for any time chrono can show; the cast saturates otherwise.
        #[allow(clippy::cast_possible_truncation)]
        let (s, ns) = (whole as i64, ((secs - whole) * 1e9) as u32);
        let t = chrono::DateTime::from_timestamp(s, ns)?;
        return Some(t.format_with_items(items.iter()).to_string());
    }
    let text = r.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(if t.offset().local_minus_utc() == 0 {
        t.with_timezone(&chrono::Utc)
            .format_with_items(items.iter())
            .to_string()
    } else {
        t.format_with_items(items.iter()).to_string()
    })
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
        Seg::Index(_) | Seg::Slice => None,
    });
    let name = last
        .map(str::to_owned)
        .or_else(|| column.transforms.first().map(|t| t.name.clone()))
        .unwrap_or_default();
    snake_case(&name).to_uppercase()
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

/// The part of `value` a projection selects, keys spelled as the resource spells them
/// (`json(status.url)` → `{"status": {"url": …}}`); a transformed key holds its result.
fn project(value: &Value, path: &[Seg], transforms: &[Transform], item: &Value) -> Option<Value> {
    let Some((seg, rest)) = path.split_first() else {
        let v = apply_transforms(transforms, value.clone(), item);
        return (!v.is_null()).then_some(v);
    };
    match (seg, value) {
        (Seg::Key(k), Value::Object(m)) => {
            let actual = [k.clone(), camel_case(k), snake_case(k)]
                .into_iter()
                .find(|c| m.contains_key(c))?;
            let sub = project(&m[&actual], rest, transforms, item)?;
            let mut out = Map::new();
            out.insert(actual, sub);
            Some(Value::Object(out))
        }
        (Seg::Key(_), Value::Array(items)) | (Seg::Slice, Value::Array(items)) => {
            let inner = if matches!(seg, Seg::Slice) {
                rest
            } else {
                path
            };
            let projected: Vec<Value> = items
                .iter()
                .map(|i| project(i, inner, transforms, item).unwrap_or(Value::Null))
                .collect();
            projected
                .iter()
                .any(|v| !v.is_null())
                .then_some(Value::Array(projected))
        }
        (Seg::Index(n), Value::Array(items)) => {
            let len = i64::try_from(items.len()).ok()?;
            let i = usize::try_from(if *n < 0 { len + n } else { *n }).ok()?;
            Some(Value::Array(vec![project(
                items.get(i)?,
                rest,
                transforms,
                item,
            )?]))
        }
        _ => None,
    }
}

/// Merges `b` into `a` (objects key by key; anything else: `b` wins).
fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(am), Value::Object(bm)) => {
            for (k, v) in bm {
                match am.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        am.insert(k, v);
                    }
                }
            }
        }
        (a, b) => *a = b,
    }
}

/// A resource reduced to a projection's keys (labels and attributes resolved through `keys`).
fn projected(columns: &[Column], item: &Value, keys: &Keys) -> Value {
    if columns.is_empty() {
        return item.clone();
    }
    let mut out = Value::Object(Map::new());
    for c in columns {
        let c = keys.resolve(c, item, true);
        if c.path.is_empty() {
            continue;
        }
        if let Some(p) = project(item, &c.path, &c.transforms, item) {
            merge(&mut out, p);
        }
    }
    out
}

fn to_yaml(value: &Value) -> Result<String, CliError> {
    serde_yaml::to_string(value).map_err(|e| CliError::Msg(format!("cannot render YAML: {e}")))
}

/// Renders one resource.
pub fn render_one(format: &Format, value: &Value) -> Result<String, CliError> {
    render_with(format, std::slice::from_ref(value), false, &Keys::NONE)
}

/// Renders resources; `is_list` chooses a JSON array and `---`-separated YAML as gcloud does.
pub fn render_many(format: &Format, items: &[Value], is_list: bool) -> Result<String, CliError> {
    render_with(format, items, is_list, &Keys::NONE)
}

/// [`render_many`] with the command's labels and wrapper attributes.
pub fn render_with(
    format: &Format,
    items: &[Value],
    is_list: bool,
    keys: &Keys,
) -> Result<String, CliError> {
    let cell = |c: &Column, item: &Value| render_scalar(&keys.eval(c, item, true));
    let header =
        |c: &Column| header_of(&keys.resolve(c, items.first().unwrap_or(&Value::Null), true));
    Ok(match format {
        Format::None => String::new(),
        Format::Json(columns) => {
            let shaped: Vec<Value> = items.iter().map(|i| projected(columns, i, keys)).collect();
            let text = if is_list {
                serde_json::to_string_pretty(&shaped)
            } else {
                serde_json::to_string_pretty(shaped.first().unwrap_or(&Value::Null))
            };
            let mut s = text.map_err(|e| CliError::Msg(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
        Format::Yaml(columns) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if is_list && i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&to_yaml(&projected(columns, item, keys))?);
            }
            out
        }
        Format::Export => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if is_list && i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&to_yaml(&strip_for_export(item))?);
            }
            out
        }
        Format::Value(columns) => {
            let mut out = String::new();
            for item in items {
                let cells: Vec<String> = columns.iter().map(|c| cell(c, item)).collect();
                out.push_str(cells.join("\t").trim_end());
                out.push('\n');
            }
            out
        }
        Format::Table { columns, heading } => {
            let head: Vec<String> = columns.iter().map(header).collect();
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| columns.iter().map(|c| cell(c, item)).collect())
                .collect();
            if rows.is_empty() {
                String::new()
            } else {
                layout_table(heading.then_some(head.as_slice()), &rows)
            }
        }
        Format::Csv { columns, heading } => {
            let mut out = String::new();
            if *heading {
                let head: Vec<String> = columns.iter().map(|c| header(c).to_lowercase()).collect();
                out.push_str(&head.join(","));
                out.push('\n');
            }
            for item in items {
                let cells: Vec<String> = columns.iter().map(|c| csv_cell(&cell(c, item))).collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            out
        }
    })
}

#[cfg(test)]
mod tests;

//! Evaluator with CEL semantics: strict typing (mismatches are errors), commutative `&&`/`||`
//! that absorb an error when the other operand decides the result, and a step limit.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, FixedOffset, TimeDelta, Timelike, Utc};
use serde_json::Value as Json;

use crate::error::EvalError;
use crate::parser::{BinOp, Expr, Macro};
use crate::{AbsentFields, Activation};

/// A CEL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A field the document does not set (with [`AbsentFields::Default`]): its protobuf
    /// default, whatever the type.
    Unset,
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Timestamp(DateTime<Utc>),
    Duration(TimeDelta),
    List(Vec<Value>),
    /// Maps and messages, in insertion order.
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// A JSON document as CEL sees it: objects are maps with string keys.
    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A message-like map from field names.
    pub fn message<const N: usize>(fields: [(&str, Value); N]) -> Value {
        Value::Map(
            fields
                .into_iter()
                .map(|(name, value)| (Value::Str(name.to_owned()), value))
                .collect(),
        )
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Unset => "unset",
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Timestamp(_) => "google.protobuf.Timestamp",
            Value::Duration(_) => "google.protobuf.Duration",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The value an unset field takes when used as `like`'s type.
    fn default_like(like: &Value) -> Value {
        match like {
            Value::Bool(_) => Value::Bool(false),
            Value::Int(_) => Value::Int(0),
            Value::Double(_) => Value::Double(0.0),
            Value::Str(_) => Value::Str(String::new()),
            Value::Timestamp(_) => Value::Timestamp(DateTime::UNIX_EPOCH),
            Value::Duration(_) => Value::Duration(TimeDelta::zero()),
            Value::List(_) => Value::List(Vec::new()),
            Value::Map(_) => Value::Map(Vec::new()),
            Value::Unset | Value::Null => Value::Null,
        }
    }
}

pub(crate) struct Evaluator<'a> {
    activation: &'a dyn Activation,
    absent_fields: AbsentFields,
    /// Macro variables in scope, innermost last.
    vars: Vec<(String, Value)>,
    steps: usize,
    max_steps: usize,
}

fn overload(op: &str, a: &Value, b: &Value) -> EvalError {
    EvalError::NoSuchOverload(format!("{op}({}, {})", a.type_name(), b.type_name()))
}

/// `request.time` for a selection chain, for error texts.
fn path_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(target, field) => Some(format!("{}.{field}", path_of(target)?)),
        _ => None,
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        activation: &'a dyn Activation,
        absent_fields: AbsentFields,
        max_steps: usize,
    ) -> Evaluator<'a> {
        Evaluator {
            activation,
            absent_fields,
            vars: Vec::new(),
            steps: 0,
            max_steps,
        }
    }

    fn bool(&mut self, e: &Expr, op: &str) -> Result<bool, EvalError> {
        match self.eval(e)? {
            Value::Bool(b) => Ok(b),
            Value::Unset => Ok(false),
            other => Err(EvalError::NoSuchOverload(format!(
                "{op}({})",
                other.type_name()
            ))),
        }
    }

    /// `&&` when `short` is false, `||` when true: a side equal to `short` decides the result
    /// even if the other side errors.
    fn logical(&mut self, a: &Expr, b: &Expr, short: bool) -> Result<Value, EvalError> {
        let op = if short { "_||_" } else { "_&&_" };
        let left = self.bool(a, op);
        if left == Ok(short) {
            return Ok(Value::Bool(short));
        }
        let right = self.bool(b, op);
        if right == Ok(short) {
            return Ok(Value::Bool(short));
        }
        left?;
        right?;
        Ok(Value::Bool(!short))
    }

    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(EvalError::CostLimitExceeded);
        }
        Ok(match e {
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Double(d) => Value::Double(*d),
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((self.eval(k)?, self.eval(v)?));
                }
                Value::Map(out)
            }
            Expr::Ident(name) => match self.vars.iter().rev().find(|(n, _)| n == name) {
                Some((_, v)) => v.clone(),
                None => self
                    .activation
                    .variable(name)
                    .ok_or_else(|| EvalError::UndeclaredReference(name.clone()))?,
            },
            Expr::Select(target, field) => match self.eval(target)? {
                Value::Map(entries) => match lookup(&entries, &Value::Str(field.clone()))? {
                    Some(v) => v.clone(),
                    None if self.absent_fields == AbsentFields::Default => Value::Unset,
                    None => {
                        return Err(EvalError::NoSuchAttribute(
                            path_of(e).unwrap_or_else(|| field.clone()),
                        ));
                    }
                },
                Value::Unset | Value::Null if self.absent_fields == AbsentFields::Default => {
                    Value::Unset
                }
                other => {
                    return Err(EvalError::NoSuchOverload(format!(
                        "field '{field}' on {}",
                        other.type_name()
                    )));
                }
            },
            Expr::Has(target, field) => match self.eval(target)? {
                Value::Map(entries) => Value::Bool(matches!(
                    lookup(&entries, &Value::Str(field.clone()))?,
                    Some(v) if !is_empty(v)
                )),
                Value::Unset | Value::Null => Value::Bool(false),
                other => {
                    return Err(EvalError::NoSuchOverload(format!(
                        "has() on {}",
                        other.type_name()
                    )));
                }
            },
            Expr::Index(target, index) => {
                let target = self.eval(target)?;
                let index = self.eval(index)?;
                match (&target, &index) {
                    (Value::List(items), Value::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| items.get(i))
                        .cloned()
                        .ok_or(EvalError::IndexOutOfRange(*i))?,
                    (Value::Unset, Value::Int(i)) => return Err(EvalError::IndexOutOfRange(*i)),
                    (Value::Map(entries), key) => lookup(entries, key)?
                        .cloned()
                        .ok_or_else(|| EvalError::NoSuchKey(show(key)))?,
                    (Value::Unset, key) => return Err(EvalError::NoSuchKey(show(key))),
                    _ => return Err(overload("_[_]", &target, &index)),
                }
            }
            Expr::Not(inner) => Value::Bool(!self.bool(inner, "!_")?),
            Expr::Neg(inner) => match self.eval(inner)? {
                Value::Int(i) => Value::Int(i.checked_neg().ok_or(EvalError::Overflow)?),
                Value::Double(d) => Value::Double(-d),
                Value::Duration(d) => Value::Duration(-d),
                other => {
                    return Err(EvalError::NoSuchOverload(format!(
                        "-_({})",
                        other.type_name()
                    )));
                }
            },
            Expr::And(a, b) => self.logical(a, b, false)?,
            Expr::Or(a, b) => self.logical(a, b, true)?,
            Expr::Cond(c, a, b) => {
                if self.bool(c, "_?_:_")? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Expr::Binary(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                binary(*op, a, b)?
            }
            Expr::Call { name, target, args } => {
                let target = match target {
                    Some(t) => Some(self.eval(t)?),
                    None => None,
                };
                let args = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                call(name, target, args)?
            }
            Expr::Comprehension {
                kind,
                range,
                var,
                body,
            } => {
                let items: Vec<Value> = match self.eval(range)? {
                    Value::List(items) => items,
                    Value::Map(entries) => entries.into_iter().map(|(k, _)| k).collect(),
                    Value::Unset => Vec::new(),
                    other => {
                        return Err(EvalError::NoSuchOverload(format!(
                            "comprehension over {}",
                            other.type_name()
                        )));
                    }
                };
                self.comprehension(*kind, items, var, body)?
            }
        })
    }

    fn comprehension(
        &mut self,
        kind: Macro,
        items: Vec<Value>,
        var: &str,
        body: &Expr,
    ) -> Result<Value, EvalError> {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            self.vars.push((var.to_owned(), item.clone()));
            let r = match kind {
                Macro::Map => self.eval(body),
                _ => self.bool(body, "comprehension").map(Value::Bool),
            };
            self.vars.pop();
            // Running out of steps ends the whole evaluation, never just one element.
            if r == Err(EvalError::CostLimitExceeded) {
                return Err(EvalError::CostLimitExceeded);
            }
            results.push((item, r));
        }
        let any = |want: bool| {
            // Like `&&`/`||`: a deciding element wins over an error elsewhere.
            let mut error = None;
            for (_, r) in &results {
                match r {
                    Ok(Value::Bool(b)) if *b == want => return Ok(true),
                    Ok(_) => {}
                    Err(e) => error = Some(e.clone()),
                }
            }
            match error {
                Some(e) => Err(e),
                None => Ok(false),
            }
        };
        Ok(match kind {
            Macro::All => Value::Bool(!any(false)?),
            Macro::Exists => Value::Bool(any(true)?),
            Macro::ExistsOne => {
                let mut count = 0;
                for (_, r) in results {
                    if r? == Value::Bool(true) {
                        count += 1;
                    }
                }
                Value::Bool(count == 1)
            }
            Macro::Map => Value::List(
                results
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect::<Result<_, _>>()?,
            ),
            Macro::Filter => {
                let mut kept = Vec::new();
                for (item, r) in results {
                    if r? == Value::Bool(true) {
                        kept.push(item);
                    }
                }
                Value::List(kept)
            }
        })
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Unset | Value::Null => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Double(d) => *d == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::Timestamp(t) => *t == DateTime::UNIX_EPOCH,
        Value::Duration(d) => d.is_zero(),
        Value::List(items) => items.is_empty(),
        Value::Map(entries) => entries.is_empty(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => other.type_name().to_owned(),
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, EvalError> {
    Ok(match (a, b) {
        (Value::Unset, Value::Unset) => true,
        (Value::Unset, other) => equal(&Value::default_like(other), other)?,
        (other, Value::Unset) => equal(other, &Value::default_like(other))?,
        (Value::Int(x), Value::Double(y)) | (Value::Double(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (p, q) in x.iter().zip(y) {
                if !equal(p, q)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (k, v) in x {
                match lookup(y, k)? {
                    Some(w) if equal(v, w)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => x == y,
        (x, y) => return Err(overload("_==_", x, y)),
    })
}

fn lookup<'v>(entries: &'v [(Value, Value)], key: &Value) -> Result<Option<&'v Value>, EvalError> {
    for (k, v) in entries {
        if std::mem::discriminant(k) == std::mem::discriminant(key) && equal(k, key)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<Option<Ordering>, EvalError> {
    let a = match a {
        Value::Unset => Value::default_like(b),
        other => other.clone(),
    };
    let b = match b {
        Value::Unset => Value::default_like(&a),
        other => other.clone(),
    };
    Ok(match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
        (Value::Double(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        _ => return Err(overload(name, &a, &b)),
    })
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, EvalError> {
    // A NaN operand orders as neither less nor greater: every comparison is false.
    let order = |name: &str, test: fn(Ordering) -> bool| -> Result<Value, EvalError> {
        Ok(Value::Bool(compare(name, &a, &b)?.is_some_and(test)))
    };
    Ok(match op {
        BinOp::Eq => Value::Bool(equal(&a, &b)?),
        BinOp::Ne => Value::Bool(!equal(&a, &b)?),
        BinOp::Lt => order("_<_", Ordering::is_lt)?,
        BinOp::Le => order("_<=_", Ordering::is_le)?,
        BinOp::Gt => order("_>_", Ordering::is_gt)?,
        BinOp::Ge => order("_>=_", Ordering::is_ge)?,
        BinOp::In => match &b {
            // Mixed-type lists: an element of another type simply does not match.
            Value::List(items) => Value::Bool(items.iter().any(|i| equal(&a, i) == Ok(true))),
            Value::Map(entries) => Value::Bool(lookup(entries, &a)?.is_some()),
            Value::Unset => Value::Bool(false),
            _ => return Err(overload("@in", &a, &b)),
        },
        BinOp::Add => match (a, b) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(x.checked_add(y).ok_or(EvalError::Overflow)?)
            }
            (Value::Double(x), Value::Double(y)) => Value::Double(x + y),
            (Value::Str(x), Value::Str(y)) => Value::Str(x + &y),
            (Value::List(mut x), Value::List(y)) => {
                x.extend(y);
                Value::List(x)
            }
            (Value::Timestamp(t), Value::Duration(d))
            | (Value::Duration(d), Value::Timestamp(t)) => Value::Timestamp(
                t.checked_add_signed(d)
                    .ok_or(EvalError::TimestampOutOfRange)?,
            ),
            (Value::Duration(x), Value::Duration(y)) => {
                Value::Duration(x.checked_add(&y).ok_or(EvalError::Overflow)?)
            }
            (x, y) => return Err(overload("_+_", &x, &y)),
        },
        BinOp::Sub => match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(x.checked_sub(*y).ok_or(EvalError::Overflow)?)
            }
            (Value::Double(x), Value::Double(y)) => Value::Double(x - y),
            (Value::Timestamp(t), Value::Duration(d)) => Value::Timestamp(
                t.checked_sub_signed(*d)
                    .ok_or(EvalError::TimestampOutOfRange)?,
            ),
            (Value::Timestamp(x), Value::Timestamp(y)) => {
                Value::Duration(x.signed_duration_since(*y))
            }
            (Value::Duration(x), Value::Duration(y)) => {
                Value::Duration(x.checked_sub(y).ok_or(EvalError::Overflow)?)
            }
            _ => return Err(overload("_-_", &a, &b)),
        },
        BinOp::Mul | BinOp::Div | BinOp::Rem => {
            let name = match op {
                BinOp::Mul => "_*_",
                BinOp::Div => "_/_",
                _ => "_%_",
            };
            match (&a, &b) {
                (Value::Int(_), Value::Int(0)) if op != BinOp::Mul => {
                    return Err(EvalError::DivisionByZero);
                }
                (Value::Int(x), Value::Int(y)) => Value::Int(
                    match op {
                        BinOp::Mul => x.checked_mul(*y),
                        BinOp::Div => x.checked_div(*y),
                        _ => x.checked_rem(*y),
                    }
                    .ok_or(EvalError::Overflow)?,
                ),
                (Value::Double(x), Value::Double(y)) if op != BinOp::Rem => {
                    Value::Double(if op == BinOp::Mul { x * y } else { x / y })
                }
                _ => return Err(overload(name, &a, &b)),
            }
        }
    })
}

fn as_str(v: Value, function: &str) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Unset => Ok(String::new()),
        other => Err(EvalError::NoSuchOverload(format!(
            "{function} on {}",
            other.type_name()
        ))),
    }
}

fn call(name: &str, target: Option<Value>, args: Vec<Value>) -> Result<Value, EvalError> {
    let no_overload = |target: &Option<Value>, args: &[Value]| {
        let mut types: Vec<&str> = target.iter().map(Value::type_name).collect();
        types.extend(args.iter().map(Value::type_name));
        EvalError::NoSuchOverload(format!("{name}({})", types.join(", ")))
    };
    // `size(x)` and `x.size()` are the same function; so are the conversions.
    let (subject, mut rest) = match target {
        Some(t) => (t, args),
        None => {
            let mut args = args;
            if args.is_empty() {
                return Err(no_overload(&None, &[]));
            }
            let first = args.remove(0);
            (first, args)
        }
    };
    Ok(match (name, subject, rest.len()) {
        ("size", subject, 0) => {
            let n = match &subject {
                Value::Str(s) => s.chars().count(),
                Value::List(items) => items.len(),
                Value::Map(entries) => entries.len(),
                Value::Unset => 0,
                _ => return Err(no_overload(&Some(subject), &rest)),
            };
            Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        ("int", Value::Int(i), 0) => Value::Int(i),
        ("int", Value::Double(d), 0) if d.is_finite() => Value::Int(d.trunc() as i64),
        ("int", Value::Str(s), 0) => Value::Int(
            s.parse()
                .map_err(|_| EvalError::Conversion(format!("\"{s}\" to int")))?,
        ),
        ("string", subject, 0) => Value::Str(match subject {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Double(d) => d.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Unset => String::new(),
            other => return Err(no_overload(&Some(other), &rest)),
        }),
        ("lowerAscii", subject, 0) => Value::Str(as_str(subject, name)?.to_ascii_lowercase()),
        ("upperAscii", subject, 0) => Value::Str(as_str(subject, name)?.to_ascii_uppercase()),
        ("startsWith" | "endsWith" | "contains" | "matches", subject, 1) => {
            let s = as_str(subject, name)?;
            let arg = as_str(rest.remove(0), name)?;
            Value::Bool(match name {
                "startsWith" => s.starts_with(&arg),
                "endsWith" => s.ends_with(&arg),
                "contains" => s.contains(&arg),
                _ => regex::Regex::new(&arg)
                    .map_err(|e| EvalError::InvalidRegex(e.to_string()))?
                    .is_match(&s),
            })
        }
        ("timestamp", Value::Str(s), 0) => Value::Timestamp(
            DateTime::parse_from_rfc3339(&s)
                .map_err(|_| EvalError::InvalidTimestamp(s.clone()))?
                .with_timezone(&Utc),
        ),
        ("timestamp", Value::Timestamp(t), 0) => Value::Timestamp(t),
        ("duration", Value::Str(s), 0) => Value::Duration(parse_duration(&s)?),
        ("duration", Value::Duration(d), 0) => Value::Duration(d),
        ("getHours", Value::Duration(d), 0) => Value::Int(d.num_hours()),
        ("getMinutes", Value::Duration(d), 0) => Value::Int(d.num_minutes()),
        ("getSeconds", Value::Duration(d), 0) => Value::Int(d.num_seconds()),
        (_, Value::Timestamp(t), 0 | 1) => {
            let local = match rest.first() {
                Some(Value::Str(tz)) => t.with_timezone(&parse_zone(tz)?),
                None => t.with_timezone(&utc()?),
                Some(_) => return Err(no_overload(&Some(Value::Timestamp(t)), &rest)),
            };
            // CEL: month, day-of-month, day-of-year are 0-based; getDate is 1-based; Sunday = 0.
            Value::Int(match name {
                "getFullYear" => i64::from(local.year()),
                "getMonth" => i64::from(local.month0()),
                "getDate" => i64::from(local.day()),
                "getDayOfMonth" => i64::from(local.day0()),
                "getDayOfWeek" => i64::from(local.weekday().num_days_from_sunday()),
                "getDayOfYear" => i64::from(local.ordinal0()),
                "getHours" => i64::from(local.hour()),
                "getMinutes" => i64::from(local.minute()),
                "getSeconds" => i64::from(local.second()),
                _ => return Err(no_overload(&Some(Value::Timestamp(t)), &rest)),
            })
        }
        (_, subject, _) => return Err(no_overload(&Some(subject), &rest)),
    })
}

fn utc() -> Result<FixedOffset, EvalError> {
    FixedOffset::east_opt(0).ok_or(EvalError::TimestampOutOfRange)
}

/// Accepts "UTC" and fixed offsets "+HH:MM" / "-HH:MM"; named IANA zones would need a tz
/// database, which Kumo does not carry.
fn parse_zone(tz: &str) -> Result<FixedOffset, EvalError> {
    let unsupported = || EvalError::UnsupportedTimeZone(tz.to_owned());
    if tz == "UTC" {
        return utc();
    }
    let (sign, rest) = if let Some(rest) = tz.strip_prefix('+') {
        (1, rest)
    } else if let Some(rest) = tz.strip_prefix('-') {
        (-1, rest)
    } else {
        return Err(unsupported());
    };
    let (h, m) = rest.split_once(':').ok_or_else(unsupported)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(unsupported());
    }
    let h: i32 = h.parse().map_err(|_| unsupported())?;
    let m: i32 = m.parse().map_err(|_| unsupported())?;
    if h > 23 || m > 59 {
        return Err(unsupported());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(unsupported)
}

/// Go/CEL duration syntax: optional sign, then one or more `<decimal><unit>` with units
/// h, m, s, ms, us, µs, ns (e.g. "3600s", "1.5h", "1h30m").
fn parse_duration(s: &str) -> Result<TimeDelta, EvalError> {
    let invalid = || EvalError::InvalidDuration(s.to_owned());
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(TimeDelta::zero());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (num, tail) = rest.split_at(num_len);
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let nanos_per: i128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" | "μs" => 1_000,
            "ns" => 1,
            _ => return Err(invalid()),
        };
        if int_part.len() > 20 || frac_part.len() > 20 {
            return Err(invalid());
        }
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut frac_nanos: i128 = 0;
        let mut scale: i128 = 1;
        for d in frac_part.chars() {
            frac_nanos = frac_nanos * 10 + i128::from(d.to_digit(10).ok_or_else(invalid)?);
            scale *= 10;
        }
        total = total
            .checked_add(whole.checked_mul(nanos_per).ok_or_else(invalid)?)
            .and_then(|t| t.checked_add(frac_nanos * nanos_per / scale))
            .ok_or_else(invalid)?;
        rest = next;
    }
    if neg {
        total = -total;
    }
    // CEL limits durations to about ±10,000 years (Protobuf Duration range).
    const MAX_SECONDS: i128 = 315_576_000_000;
    if total.abs() > MAX_SECONDS * 1_000_000_000 {
        return Err(invalid());
    }
    let secs = i64::try_from(total.div_euclid(1_000_000_000)).map_err(|_| invalid())?;
    let nanos = u32::try_from(total.rem_euclid(1_000_000_000)).map_err(|_| invalid())?;
    TimeDelta::new(secs, nanos).ok_or_else(invalid)
}

//! Evaluator with CEL semantics: strict typing (mismatches are errors) and commutative
//! `&&`/`||` that absorb an error when the other operand decides the result.

use chrono::{DateTime, Datelike, FixedOffset, TimeDelta, Timelike, Utc};

use super::Activation;
use super::parser::{BinOp, Expr, Func};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("no such overload: {0}")]
    NoSuchOverload(String),
    #[error("no such attribute: {0}")]
    NoSuchAttribute(String),
    #[error("invalid timestamp {0:?}: expected RFC 3339")]
    InvalidTimestamp(String),
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    #[error(
        "unsupported time zone {0:?}: only \"UTC\" and fixed offsets like \"+05:30\" are supported"
    )]
    UnsupportedTimeZone(String),
    #[error("integer overflow")]
    Overflow,
    #[error("timestamp out of range")]
    TimestampOutOfRange,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Timestamp(DateTime<Utc>),
    Duration(TimeDelta),
    List(Vec<Value>),
    /// `request` / `resource`: only usable through member access.
    Root(&'static str),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::Timestamp(_) => "google.protobuf.Timestamp",
            Value::Duration(_) => "google.protobuf.Duration",
            Value::List(_) => "list",
            Value::Root(_) => "map",
        }
    }
}

pub(crate) fn evaluate(expr: &Expr, act: &Activation<'_>) -> Result<bool, EvalError> {
    match eval(expr, act)? {
        Value::Bool(b) => Ok(b),
        v => Err(EvalError::NoSuchOverload(format!(
            "condition must evaluate to bool, got {}",
            v.type_name()
        ))),
    }
}

fn overload(op: &str, a: &Value, b: &Value) -> EvalError {
    EvalError::NoSuchOverload(format!("{op}({}, {})", a.type_name(), b.type_name()))
}

fn as_bool(v: Result<Value, EvalError>, op: &str) -> Result<bool, EvalError> {
    match v? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError::NoSuchOverload(format!(
            "{op}({})",
            other.type_name()
        ))),
    }
}

/// `&&` when `short` is false, `||` when true: a side equal to `short` decides the result
/// even if the other side errors.
fn logical(a: &Expr, b: &Expr, short: bool, act: &Activation<'_>) -> Result<Value, EvalError> {
    let op = if short { "_||_" } else { "_&&_" };
    let left = as_bool(eval(a, act), op);
    if left == Ok(short) {
        return Ok(Value::Bool(short));
    }
    let right = as_bool(eval(b, act), op);
    if right == Ok(short) {
        return Ok(Value::Bool(short));
    }
    left?;
    right?;
    Ok(Value::Bool(!short))
}

fn eval(expr: &Expr, act: &Activation<'_>) -> Result<Value, EvalError> {
    Ok(match expr {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Int(i) => Value::Int(*i),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::List(items) => Value::List(
            items
                .iter()
                .map(|e| eval(e, act))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Ident(name) => match name.as_str() {
            "request" => Value::Root("request"),
            "resource" => Value::Root("resource"),
            other => return Err(EvalError::NoSuchAttribute(other.to_owned())),
        },
        Expr::Member(target, field) => match (eval(target, act)?, field.as_str()) {
            (Value::Root("request"), "time") => Value::Timestamp(act.request_time),
            (Value::Root("resource"), "name") => Value::Str(act.resource_name.to_owned()),
            (Value::Root("resource"), "type") => Value::Str(act.resource_type.to_owned()),
            (Value::Root("resource"), "service") => Value::Str(act.resource_service.to_owned()),
            (Value::Root(root), f) => {
                return Err(EvalError::NoSuchAttribute(format!("{root}.{f}")));
            }
            (v, f) => {
                return Err(EvalError::NoSuchOverload(format!(
                    "field '{f}' on {}",
                    v.type_name()
                )));
            }
        },
        Expr::Not(e) => Value::Bool(!as_bool(eval(e, act), "!_")?),
        Expr::Neg(e) => match eval(e, act)? {
            Value::Int(i) => Value::Int(i.checked_neg().ok_or(EvalError::Overflow)?),
            Value::Duration(d) => Value::Duration(-d),
            v => return Err(EvalError::NoSuchOverload(format!("-_({})", v.type_name()))),
        },
        Expr::And(a, b) => logical(a, b, false, act)?,
        Expr::Or(a, b) => logical(a, b, true, act)?,
        Expr::Binary(op, a, b) => binary(*op, eval(a, act)?, eval(b, act)?)?,
        Expr::Call { func, target, args } => {
            let target = target.as_deref().map(|t| eval(t, act)).transpose()?;
            let args = args
                .iter()
                .map(|e| eval(e, act))
                .collect::<Result<Vec<_>, _>>()?;
            call(*func, target, args)?
        }
    })
}

fn equal(a: &Value, b: &Value) -> Result<bool, EvalError> {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (p, q) in x.iter().zip(y) {
                if !equal(p, q)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        (Value::Root(_), _) | (_, Value::Root(_)) => Err(overload("_==_", a, b)),
        _ if a.type_name() == b.type_name() => Ok(a == b),
        _ => Err(overload("_==_", a, b)),
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use std::cmp::Ordering;
    let order = |name: &str| -> Result<Ordering, EvalError> {
        match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
            (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
            (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
            (Value::Timestamp(x), Value::Timestamp(y)) => Ok(x.cmp(y)),
            (Value::Duration(x), Value::Duration(y)) => Ok(x.cmp(y)),
            _ => Err(overload(name, &a, &b)),
        }
    };
    Ok(match op {
        BinOp::Eq => Value::Bool(equal(&a, &b)?),
        BinOp::Ne => Value::Bool(!equal(&a, &b)?),
        BinOp::Lt => Value::Bool(order("_<_")?.is_lt()),
        BinOp::Le => Value::Bool(order("_<=_")?.is_le()),
        BinOp::Gt => Value::Bool(order("_>_")?.is_gt()),
        BinOp::Ge => Value::Bool(order("_>=_")?.is_ge()),
        BinOp::In => match &b {
            Value::List(items) => {
                // Heterogeneous list elements simply do not match.
                Value::Bool(items.iter().any(|i| equal(&a, i) == Ok(true)))
            }
            _ => return Err(overload("@in", &a, &b)),
        },
        BinOp::Add => match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(x.checked_add(*y).ok_or(EvalError::Overflow)?)
            }
            (Value::Str(x), Value::Str(y)) => Value::Str(format!("{x}{y}")),
            (Value::List(x), Value::List(y)) => Value::List(x.iter().chain(y).cloned().collect()),
            (Value::Timestamp(t), Value::Duration(d))
            | (Value::Duration(d), Value::Timestamp(t)) => Value::Timestamp(
                t.checked_add_signed(*d)
                    .ok_or(EvalError::TimestampOutOfRange)?,
            ),
            (Value::Duration(x), Value::Duration(y)) => {
                Value::Duration(x.checked_add(y).ok_or(EvalError::Overflow)?)
            }
            _ => return Err(overload("_+_", &a, &b)),
        },
        BinOp::Sub => match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => {
                Value::Int(x.checked_sub(*y).ok_or(EvalError::Overflow)?)
            }
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
    })
}

fn call(func: Func, target: Option<Value>, args: Vec<Value>) -> Result<Value, EvalError> {
    let name = format!("{func:?}");
    let bad = |target: &Option<Value>, args: &[Value]| {
        let mut types: Vec<&str> = target.iter().map(Value::type_name).collect();
        types.extend(args.iter().map(Value::type_name));
        EvalError::NoSuchOverload(format!("{name}({})", types.join(", ")))
    };
    Ok(match (func, &target, args.as_slice()) {
        (Func::Timestamp, None, [Value::Str(s)]) => Value::Timestamp(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| EvalError::InvalidTimestamp(s.clone()))?
                .with_timezone(&Utc),
        ),
        (Func::Timestamp, None, [Value::Timestamp(t)]) => Value::Timestamp(*t),
        (Func::Duration, None, [Value::Str(s)]) => Value::Duration(parse_duration(s)?),
        (Func::Duration, None, [Value::Duration(d)]) => Value::Duration(*d),
        (Func::StartsWith, Some(Value::Str(s)), [Value::Str(p)]) => {
            Value::Bool(s.starts_with(p.as_str()))
        }
        (Func::EndsWith, Some(Value::Str(s)), [Value::Str(p)]) => {
            Value::Bool(s.ends_with(p.as_str()))
        }
        (Func::Contains, Some(Value::Str(s)), [Value::Str(p)]) => {
            Value::Bool(s.contains(p.as_str()))
        }
        (_, Some(Value::Timestamp(t)), [] | [Value::Str(_)]) => {
            let local = match args.first() {
                Some(Value::Str(tz)) => t.with_timezone(&parse_zone(tz)?),
                _ => t.with_timezone(
                    &FixedOffset::east_opt(0).ok_or(EvalError::TimestampOutOfRange)?,
                ),
            };
            // CEL: month, day-of-month, day-of-year are 0-based; getDate is 1-based; Sunday = 0.
            let v = match func {
                Func::GetFullYear => i64::from(local.year()),
                Func::GetMonth => i64::from(local.month0()),
                Func::GetDate => i64::from(local.day()),
                Func::GetDayOfMonth => i64::from(local.day0()),
                Func::GetDayOfWeek => i64::from(local.weekday().num_days_from_sunday()),
                Func::GetDayOfYear => i64::from(local.ordinal0()),
                Func::GetHours => i64::from(local.hour()),
                Func::GetMinutes => i64::from(local.minute()),
                Func::GetSeconds => i64::from(local.second()),
                _ => return Err(bad(&target, &args)),
            };
            Value::Int(v)
        }
        (Func::GetHours, Some(Value::Duration(d)), []) => Value::Int(d.num_hours()),
        (Func::GetMinutes, Some(Value::Duration(d)), []) => Value::Int(d.num_minutes()),
        (Func::GetSeconds, Some(Value::Duration(d)), []) => Value::Int(d.num_seconds()),
        _ => return Err(bad(&target, &args)),
    })
}

/// Accepts "UTC" and fixed offsets "+HH:MM" / "-HH:MM"; named IANA zones would need a tz
/// database, which Kumo does not carry.
fn parse_zone(tz: &str) -> Result<FixedOffset, EvalError> {
    let unsupported = || EvalError::UnsupportedTimeZone(tz.to_owned());
    if tz == "UTC" {
        return FixedOffset::east_opt(0).ok_or_else(unsupported);
    }
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return Err(unsupported()),
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

//! kumo-logfilter: the Cloud Logging query language over LogEntry-shaped JSON.
//! Precedence follows Google's doc: NOT binds tightest, then OR, then AND
//! (`a OR NOT b AND NOT c OR d` == `(a OR (NOT b)) AND ((NOT c) OR d)`).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Rejected query; Display mirrors Google's INVALID_ARGUMENT text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid query: Unparseable filter: {0}")]
pub struct ParseError(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Has,
}

#[derive(Debug, Clone)]
enum Expr {
    All,
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Vec<String>, Op, String),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(Op),
    LParen,
    RParen,
    Minus,
    Dot,
}

fn lex(s: &str) -> Result<Vec<Tok>, ParseError> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '"' {
            let mut t = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err(ParseError("unterminated string".into())),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        t.push(*c.get(i).ok_or_else(|| ParseError("bad escape".into()))?);
                    }
                    Some(x) => t.push(*x),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Quoted(t));
        } else if ch == '(' || ch == ')' || ch == '.' || ch == ':' || ch == '=' {
            out.push(match ch {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '.' => Tok::Dot,
                ':' => Tok::Op(Op::Has),
                _ => Tok::Op(Op::Eq),
            });
            i += 1;
        } else if ch == '!' || ch == '<' || ch == '>' {
            let eq = c.get(i + 1) == Some(&'=');
            let op = match (ch, eq) {
                ('!', true) => Op::Ne,
                ('<', true) => Op::Le,
                ('>', true) => Op::Ge,
                ('<', false) => Op::Lt,
                ('>', false) => Op::Gt,
                _ => return Err(ParseError("unexpected '!'".into())),
            };
            out.push(Tok::Op(op));
            i += if eq { 2 } else { 1 };
        } else if ch == '-' && out.last().is_none_or(|t| !matches!(t, Tok::Op(_))) {
            out.push(Tok::Minus);
            i += 1;
        } else {
            let mut t = String::new();
            while i < c.len()
                && !c[i].is_whitespace()
                && !"()\":=!<>".contains(c[i])
                && (c[i] != '.' || t.chars().any(|x| x.is_ascii_digit()))
            {
                t.push(c[i]);
                i += 1;
            }
            out.push(Tok::Word(t));
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.or()?;
        loop {
            match self.peek() {
                None | Some(Tok::RParen) => return Ok(e),
                Some(Tok::Word(w)) if w == "AND" => self.i += 1,
                _ => {}
            }
            e = Expr::And(Box::new(e), Box::new(self.or()?));
        }
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        while matches!(self.peek(), Some(Tok::Word(w)) if w == "OR") {
            self.i += 1;
            e = Expr::Or(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Word(w)) if w == "NOT" => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.i += 1;
                let e = self.and()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(ParseError("expected ')'".into()));
                }
                self.i += 1;
                Ok(e)
            }
            _ => self.term(),
        }
    }
    fn word(&mut self) -> Result<String, ParseError> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Word(w) | Tok::Quoted(w)) => {
                self.i += 1;
                Ok(w)
            }
            _ => Err(ParseError("expected a value".into())),
        }
    }
    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut path = vec![self.word()?];
        while self.peek() == Some(&Tok::Dot) {
            self.i += 1;
            path.push(self.word()?);
        }
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.i += 1;
            let v = self.word()?;
            return Ok(Expr::Cmp(path, op, v));
        }
        // A bare value (no operator) is a global text search.
        Ok(Expr::Text(path.join(".")))
    }
}

/// A parsed Logging query.
#[derive(Debug, Clone)]
pub struct Filter(Expr);

const SEV: [&str; 9] = [
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

fn sev_num(s: &str) -> Option<f64> {
    let u = s.to_ascii_uppercase();
    SEV.iter()
        .position(|x| *x == u)
        .map(|p| (p * 100) as f64)
        .or_else(|| s.parse().ok())
}

fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        _ => out.push(v),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cmp_one(path: &[String], v: &Value, op: Op, want: &str) -> bool {
    if op == Op::Has && want == "*" {
        return true;
    }
    if let Value::Object(_) | Value::Array(_) = v {
        if op == Op::Has {
            let mut l = Vec::new();
            leaves(v, &mut l);
            return l.iter().any(|x| cmp_one(path, x, op, want));
        }
        return false;
    }
    let got = scalar(v);
    let ord = if path.len() == 1 && path[0] == "severity" {
        sev_num(&got)
            .zip(sev_num(want))
            .and_then(|(a, b)| a.partial_cmp(&b))
    } else if let (Ok(a), Ok(b)) = (
        DateTime::parse_from_rfc3339(&got),
        DateTime::parse_from_rfc3339(want),
    ) {
        Some(a.cmp(&b))
    } else if let (Ok(a), Ok(b)) = (got.parse::<f64>(), want.parse::<f64>()) {
        a.partial_cmp(&b)
    } else {
        Some(got.cmp(&want.to_string()))
    };
    use std::cmp::Ordering::*;
    match op {
        Op::Has => got.to_lowercase().contains(&want.to_lowercase()),
        Op::Eq => ord == Some(Equal),
        Op::Ne => ord != Some(Equal),
        Op::Gt => ord == Some(Greater),
        Op::Lt => ord == Some(Less),
        Op::Ge => matches!(ord, Some(Greater | Equal)),
        Op::Le => matches!(ord, Some(Less | Equal)),
    }
}

fn eval(e: &Expr, v: &Value) -> bool {
    match e {
        Expr::All => true,
        Expr::And(a, b) => eval(a, v) && eval(b, v),
        Expr::Or(a, b) => eval(a, v) || eval(b, v),
        Expr::Not(a) => !eval(a, v),
        Expr::Text(t) => {
            let mut l = Vec::new();
            leaves(v, &mut l);
            l.iter()
                .any(|x| scalar(x).to_lowercase().contains(&t.to_lowercase()))
        }
        Expr::Cmp(path, op, want) => {
            let mut cur = vec![v];
            for seg in path {
                cur = cur
                    .into_iter()
                    .flat_map(|c| match c {
                        Value::Array(a) => a.iter().filter_map(|x| x.get(seg)).collect::<Vec<_>>(),
                        _ => c.get(seg).into_iter().collect(),
                    })
                    .collect();
            }
            // A missing field never matches any comparison (including `!=`).
            cur.iter().any(|x| match x {
                Value::Array(a) if *op != Op::Has => a.iter().any(|y| cmp_one(path, y, *op, want)),
                _ => cmp_one(path, x, *op, want),
            })
        }
    }
}

impl Filter {
    /// Parses a query; empty (or comment-only) text matches every entry.
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        let t = lex(text)?;
        if t.is_empty() {
            return Ok(Filter(Expr::All));
        }
        let mut p = P { t, i: 0 };
        let e = p.and()?;
        if p.i != p.t.len() {
            return Err(ParseError("unexpected ')'".into()));
        }
        Ok(Filter(e))
    }

    /// Whether `entry` (LogEntry JSON) satisfies the query.
    pub fn matches(&self, entry: &Value) -> bool {
        eval(&self.0, entry)
    }

    /// Timestamp bounds implied by top-level AND terms on `timestamp`, so a store can pre-filter.
    pub fn timestamp_bounds(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut b = (None, None);
        bounds(&self.0, &mut b);
        b
    }
}

type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn bounds(e: &Expr, b: &mut Bounds) {
    match e {
        Expr::And(x, y) => {
            bounds(x, b);
            bounds(y, b);
        }
        Expr::Cmp(p, op, v) if p.len() == 1 && p[0] == "timestamp" => {
            if let Ok(t) = DateTime::parse_from_rfc3339(v) {
                let t = t.with_timezone(&Utc);
                match op {
                    Op::Gt | Op::Ge => b.0 = Some(b.0.map_or(t, |o: DateTime<Utc>| o.max(t))),
                    Op::Lt | Op::Le => b.1 = Some(b.1.map_or(t, |o: DateTime<Utc>| o.min(t))),
                    Op::Eq => {
                        b.0 = Some(t);
                        b.1 = Some(t);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let e = json!({"severity":"ERROR","resource":{"type":"cloud_run_revision","labels":{"service_name":"hello"}},
            "timestamp":"2026-01-01T00:00:00Z","httpRequest":{"status":500},"textPayload":"Boom happened"});
        for (q, want) in [
            ("", true),
            ("severity >= WARNING", true),
            ("severity < ERROR", false),
            (
                "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = hello",
                true,
            ),
            ("httpRequest.status >= 500", true),
            ("boom", true),
            ("-boom", false),
            ("NOT httpRequest.status = 200", true),
            ("textPayload:*", true),
            ("jsonPayload:*", false),
            ("timestamp >= \"2025-12-31T00:00:00Z\"", true),
            (
                "severity=INFO OR severity=ERROR httpRequest.status=500",
                true,
            ),
        ] {
            assert_eq!(Filter::parse(q).unwrap().matches(&e), want, "{q}");
        }
    }

    #[test]
    fn audit_and_json_entries() {
        let audit = json!({"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "protoPayload":{"methodName":"google.cloud.run.v2.Services.CreateService",
            "authorizationInfo":[{"permission":"run.services.create","granted":true}]}});
        let app = json!({"labels":{"run.googleapis.com/x":"v"},"jsonPayload":{"my.field":"Hello World","n":10}});
        for (q, e, want) in [
            ("protoPayload.methodName:\"CreateService\"", &audit, true),
            (
                "protoPayload.authorizationInfo.permission=\"run.services.create\"",
                &audit,
                true,
            ),
            (
                "protoPayload.authorizationInfo.granted=false",
                &audit,
                false,
            ),
            ("logName:activity", &audit, true),
            ("jsonPayload.\"my.field\":world", &app, true),
            ("labels.\"run.googleapis.com/x\"=v", &app, true),
            ("jsonPayload.n > 9", &app, true),
            ("jsonPayload.n < 9", &app, false),
            ("jsonPayload.missing != 1", &app, false),
        ] {
            assert_eq!(Filter::parse(q).unwrap().matches(e), want, "{q}");
        }
    }

    #[test]
    fn seed_001_query_verbatim() {
        let q = "resource.type = \"cloud_run_revision\"\nseverity=ERROR\n\"User does not have access to image\"\n";
        let f = Filter::parse(q).unwrap();
        let hit = json!({"resource":{"type":"cloud_run_revision"},"severity":"ERROR",
            "protoPayload":{"status":{"code":7,"message":"User does not have access to image gcr.io/x/y."}}});
        assert!(f.matches(&hit));
        let mut miss = hit.clone();
        miss["severity"] = json!("INFO");
        assert!(!f.matches(&miss));
    }

    #[test]
    fn precedence_or_binds_tighter_than_and() {
        // (a OR NOT b) AND (NOT c OR d) per Google's doc.
        let f = Filter::parse("a=1 OR NOT b=1 AND NOT c=1 OR d=1").unwrap();
        assert!(f.matches(&json!({"a":1,"b":1,"c":0})));
        assert!(!f.matches(&json!({"a":1,"b":1,"c":1})));
    }

    #[test]
    fn bounds_and_errors() {
        let f = Filter::parse(
            "timestamp>=\"2026-01-01T00:00:00Z\" timestamp<\"2026-01-02T00:00:00+09:00\"",
        )
        .unwrap();
        let (lo, hi) = f.timestamp_bounds();
        assert_eq!(lo.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(hi.unwrap().to_rfc3339(), "2026-01-01T15:00:00+00:00");
        for bad in ["(a=1", "a=1)", "a=", "\"open", "a ! b"] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = Filter::parse(&s);
        }
    }
}

//! Table-driven behaviour tests for the IAM Conditions CEL subset.

use chrono::{DateTime, Utc};
use kumo_iam::condition::{Activation, Condition, EvalError, ParseError};
use proptest::prelude::*;

#[derive(Debug)]
enum Want {
    True,
    False,
    Parse(&'static str),
    Eval(&'static str),
}

#[expect(clippy::unwrap_used, reason = "fixed, valid test timestamp")]
fn activation() -> Activation<'static> {
    Activation {
        // A Monday, 2026-03-02 10:30:15 UTC.
        request_time: DateTime::parse_from_rfc3339("2026-03-02T10:30:15Z")
            .unwrap()
            .with_timezone(&Utc),
        resource_name: "projects/demo/locations/asia-northeast1/services/hello",
        resource_type: "run.googleapis.com/Service",
        resource_service: "run.googleapis.com",
    }
}

const CASES: &[(&str, Want)] = &[
    ("true", Want::True),
    ("false", Want::False),
    (
        "request.time < timestamp('2027-01-01T00:00:00Z')",
        Want::True,
    ),
    (
        "request.time < timestamp('2020-10-01T00:00:00.000Z')",
        Want::False,
    ),
    (
        "request.time >= timestamp(\"2026-03-02T10:30:15Z\")",
        Want::True,
    ),
    (
        "request.time > timestamp('2026-03-02T19:30:00+09:00')",
        Want::True,
    ),
    (
        "request.time == timestamp('2026-03-02T10:30:15Z')",
        Want::True,
    ),
    (
        "request.time <= timestamp('2026-03-02T10:30:14Z')",
        Want::False,
    ),
    ("resource.name.startsWith('projects/demo/')", Want::True),
    ("resource.name.endsWith('/services/hello')", Want::True),
    ("resource.name.contains('asia-northeast1')", Want::True),
    ("resource.name.startsWith(\"projects/other/\")", Want::False),
    ("resource.type == 'run.googleapis.com/Service'", Want::True),
    ("resource.service != 'storage.googleapis.com'", Want::True),
    (
        "resource.type in ['run.googleapis.com/Service', 'run.googleapis.com/Job']",
        Want::True,
    ),
    ("resource.type in []", Want::False),
    ("'a' in [1, 'a']", Want::True),
    ("request.time.getHours() == 10", Want::True),
    ("request.time.getHours('UTC') == 10", Want::True),
    ("request.time.getHours('+09:00') == 19", Want::True),
    ("request.time.getHours('-11:00') == 23", Want::True),
    ("request.time.getDayOfWeek() == 1", Want::True),
    ("request.time.getDayOfWeek('-11:00') == 0", Want::True),
    ("request.time.getFullYear() == 2026", Want::True),
    ("request.time.getMonth() == 2", Want::True),
    ("request.time.getDate() == 2", Want::True),
    ("request.time.getDayOfMonth() == 1", Want::True),
    ("request.time.getDayOfYear() == 60", Want::True),
    (
        "request.time.getMinutes() == 30 && request.time.getSeconds() == 15",
        Want::True,
    ),
    (
        "request.time.getHours('Europe/Berlin') == 11",
        Want::Eval("unsupported time zone"),
    ),
    (
        "timestamp('2026-03-02T00:00:00Z') + duration('37815s') == request.time",
        Want::True,
    ),
    ("duration('1h30m') == duration('5400s')", Want::True),
    ("duration('1.5h') == duration('90m')", Want::True),
    ("duration('-1s') < duration('0')", Want::True),
    (
        "request.time - timestamp('2026-03-02T10:00:00Z') == duration('30m15s')",
        Want::True,
    ),
    (
        "duration('3600').getSeconds() == 3600",
        Want::Eval("invalid duration"),
    ),
    (
        "timestamp('yesterday') < request.time",
        Want::Eval("invalid timestamp"),
    ),
    ("!(resource.type == 'x') && (1 + 2 == 3)", Want::True),
    ("1 - 5 == -4 && -9223372036854775808 < 0", Want::True),
    (
        "9223372036854775807 + 1 > 0",
        Want::Eval("integer overflow"),
    ),
    (
        "'a\\'b' == \"a'b\" && '\\x41\\u00e9\\101' == 'A\u{e9}A'",
        Want::True,
    ),
    ("r'\\d' == '\\\\d'", Want::True),
    ("'ab' + 'c' == 'abc' && 'abc' < 'abd'", Want::True),
    ("null == null", Want::True),
    ("0x10 == 16", Want::True),
    // Commutative logical operators absorb errors when the other side decides.
    ("false && 1 == 'a'", Want::False),
    ("1 == 'a' && false", Want::False),
    ("true || 1 == 'a'", Want::True),
    ("1 == 'a' || true", Want::True),
    ("true && 1 == 'a'", Want::Eval("no such overload")),
    ("1 == 'a' || false", Want::Eval("no such overload")),
    ("resource.name", Want::Eval("must evaluate to bool")),
    ("1 < 'a'", Want::Eval("no such overload")),
    ("request.time < 5", Want::Eval("no such overload")),
    ("!1", Want::Eval("no such overload")),
    ("request.path == '/'", Want::Eval("no such attribute")),
    (
        "resource.name.startsWith(1)",
        Want::Eval("no such overload"),
    ),
    // Parse errors.
    ("", Want::Parse("unexpected end of input")),
    ("request.time <", Want::Parse("unexpected end of input")),
    ("(true", Want::Parse("expected ')'")),
    ("true false", Want::Parse("unexpected token 'false'")),
    ("'unterminated", Want::Parse("unterminated string literal")),
    ("'bad \\q escape'", Want::Parse("invalid escape sequence")),
    (
        "1.5 < 2",
        Want::Parse("floating point literals are not supported"),
    ),
    ("1u == 1u", Want::Parse("unsigned integer literals")),
    (
        "b'abc' == b'abc'",
        Want::Parse("bytes literals are not supported"),
    ),
    ("9223372036854775808 > 0", Want::Parse("out of range")),
    (
        "resource.name.matches('^projects/')",
        Want::Parse("unsupported function 'matches'"),
    ),
    (
        "size('abc') == 3",
        Want::Parse("unsupported function 'size'"),
    ),
    ("foo == 1", Want::Parse("undeclared reference to 'foo'")),
    ("timestamp('a', 'b')", Want::Parse("no matching overload")),
    (
        "resource['name'] == 'x'",
        Want::Parse("index expressions are not supported"),
    ),
    (
        "true # false",
        Want::Parse("token recognition error at: '#'"),
    ),
    ("request.", Want::Parse("expected field or method name")),
];

#[test]
fn table() {
    let act = activation();
    let mut failures = Vec::new();
    for (expr, want) in CASES {
        let got = Condition::parse(expr).map(|c| c.evaluate(&act));
        let ok = match (want, &got) {
            (Want::True, Ok(Ok(true))) | (Want::False, Ok(Ok(false))) => true,
            (Want::Parse(msg), Err(e)) => e.to_string().contains(msg),
            (Want::Eval(msg), Ok(Err(e))) => e.to_string().contains(msg),
            _ => false,
        };
        if !ok {
            failures.push(format!("{expr:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(CASES.len() >= 40);
}

#[test]
fn parse_error_display_has_position() {
    let err = Condition::parse("request.time <\n  timestamp('x') @").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Condition expression parse error: ERROR: <input>:2:18: Syntax error: token recognition error at: '@'"
    );
    assert!(matches!(
        err,
        ParseError::Syntax {
            line: 2,
            column: 18,
            ..
        }
    ));
}

#[test]
fn expression_is_kept_verbatim() {
    let src = "  resource.type == 'x' ";
    assert_eq!(Condition::parse(src).unwrap().expression(), src);
}

#[test]
fn length_limit() {
    let long = format!("'{}' == ''", "a".repeat(12_800));
    assert!(matches!(
        Condition::parse(&long),
        Err(ParseError::TooLong { max: 12_800, .. })
    ));
}

#[test]
fn hostile_nesting_is_rejected_not_overflowed() {
    for src in [
        format!("{}true{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}true", "!".repeat(10_000)),
        format!("{}1", "-".repeat(10_000)),
        vec!["true"; 1500].join(" && "),
        vec!["1"; 3000].join(" + "),
        format!("{}1{}", "[".repeat(4000), "]".repeat(4000)),
        format!("'a'{}", ".contains('a')".repeat(800)),
    ] {
        let err = Condition::parse(&src).unwrap_err();
        assert!(err.to_string().contains("maximum depth"), "{err}");
    }
    // Moderate nesting still works.
    let ok = format!("{}true{}", "(".repeat(30), ")".repeat(30));
    assert_eq!(
        Condition::parse(&ok).unwrap().evaluate(&activation()),
        Ok(true)
    );
}

#[test]
fn eval_error_is_typed() {
    let c = Condition::parse("request.time.getHours('America/New_York') > 1").unwrap();
    assert_eq!(
        c.evaluate(&activation()),
        Err(EvalError::UnsupportedTimeZone(
            "America/New_York".to_owned()
        ))
    );
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,200}") {
        if let Ok(c) = Condition::parse(&s) {
            let _ = c.evaluate(&activation());
        }
    }

    #[test]
    fn parser_never_panics_on_cel_like_input(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("request.time"), Just("resource.name"), Just("("), Just(")"), Just("["),
                Just("]"), Just(","), Just("&&"), Just("||"), Just("!"), Just("-"), Just("+"),
                Just("=="), Just("<"), Just(" in "), Just("'x'"), Just("1"), Just("true"),
                Just(".startsWith("), Just(".getHours("), Just("timestamp("), Just("duration("),
                Just("'2026-01-01T00:00:00Z'"), Just("'1h'"), Just("'\\u00"), Just("\""),
            ],
            0..60,
        )
    ) {
        let s = parts.concat();
        if let Ok(c) = Condition::parse(&s) {
            let _ = c.evaluate(&activation());
        }
    }
}

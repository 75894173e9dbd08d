//! The language mechanics: declarations, optional features, absent fields, errors. The IAM and
//! custom-constraint dialects have their own table tests in their crates.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const FULL: Language = Language {
    variables: &["resource"],
    functions: &[
        Function {
            name: "size",
            receiver: Receiver::Either,
            arity: None,
        },
        Function {
            name: "startsWith",
            receiver: Receiver::Member,
            arity: None,
        },
        Function {
            name: "timestamp",
            receiver: Receiver::Global,
            arity: Some(1),
        },
        Function {
            name: "getHours",
            receiver: Receiver::Member,
            arity: None,
        },
    ],
    features: Features::ALL,
    absent_fields: AbsentFields::Default,
    max_depth: 64,
    max_steps: 10_000,
};

const STRICT: Language = Language {
    features: Features::NONE,
    absent_fields: AbsentFields::Error,
    ..FULL
};

struct Doc(serde_json::Value);

impl Activation for Doc {
    fn variable(&self, name: &str) -> Option<Value> {
        (name == "resource").then(|| Value::from_json(&self.0))
    }
}

fn run(language: &Language, src: &str) -> Result<Result<Value, EvalError>, ParseError> {
    let doc = Doc(json!({"name": "web", "tags": ["a", "b"], "labels": {"env": "prod"}, "n": 3}));
    Program::parse(src, language).map(|p| p.evaluate(&doc))
}

#[test]
fn values_of_the_full_language() {
    for (src, want) in [
        ("resource.name", Value::Str("web".into())),
        ("resource.tags.map(t, t + '!')[1]", Value::Str("b!".into())),
        ("resource.tags.exists(t, t == 'b')", Value::Bool(true)),
        ("resource.tags.filter(t, t != 'a').size()", Value::Int(1)),
        ("size(resource.labels)", Value::Int(1)),
        ("{'a': 1}['a'] * 7 % 4", Value::Int(3)),
        ("resource.n > 2 ? 1.5 : 2.5", Value::Double(1.5)),
        ("resource.n == 3.0", Value::Bool(true)),
        ("-9223372036854775808 < 0x10", Value::Bool(true)),
        (
            "resource.missing == '' && resource.missing == 0",
            Value::Bool(true),
        ),
        (
            "has(resource.name) && !has(resource.missing)",
            Value::Bool(true),
        ),
        ("'env' in resource.labels", Value::Bool(true)),
        ("1e3 == 1000.0 && .5 == 0.5", Value::Bool(true)),
        (
            "'a\\x41\\u00e9' // a comment",
            Value::Str("aA\u{e9}".into()),
        ),
        (
            "timestamp('2026-03-02T19:30:00+09:00').getHours()",
            Value::Int(10),
        ),
    ] {
        assert_eq!(run(&FULL, src), Ok(Ok(want)), "{src}");
    }
}

#[test]
fn evaluation_errors() {
    for (src, want) in [
        ("resource.labels['x']", EvalError::NoSuchKey("x".into())),
        ("resource.tags[2]", EvalError::IndexOutOfRange(2)),
        ("1 / 0", EvalError::DivisionByZero),
        ("9223372036854775807 * 2", EvalError::Overflow),
        (
            "resource.name < 1",
            EvalError::NoSuchOverload("_<_(string, int)".into()),
        ),
        ("timestamp('x')", EvalError::InvalidTimestamp("x".into())),
    ] {
        assert_eq!(run(&FULL, src), Ok(Err(want)), "{src}");
    }
    // Absent fields are an error where the language says so, naming the selection.
    assert_eq!(
        run(&STRICT, "resource.missing.deeper == ''"),
        Ok(Err(EvalError::NoSuchAttribute("resource.missing".into())))
    );
    assert_eq!(
        run(&FULL, "resource.name").and_then(|_| {
            Program::parse("resource.name", &FULL)
                .map(|p| p.evaluate_bool(&Doc(json!({"name": "x"}))))
        }),
        Ok(Err(EvalError::NoSuchOverload(
            "condition must evaluate to bool, got string".into()
        )))
    );
}

#[test]
fn the_strict_language_refuses_what_it_leaves_out() {
    for (src, offset, kind) in [
        (
            "1.5 < 2",
            0,
            ParseErrorKind::Unsupported(Unsupported::DoubleLiterals),
        ),
        (
            "resource['a']",
            8,
            ParseErrorKind::Unsupported(Unsupported::Index),
        ),
        (
            "{}",
            0,
            ParseErrorKind::Unsupported(Unsupported::MapLiterals),
        ),
        (
            "true ? 1 : 2",
            5,
            ParseErrorKind::Unsupported(Unsupported::Conditional),
        ),
        (
            "2 * 3",
            2,
            ParseErrorKind::Unsupported(Unsupported::Operator("*")),
        ),
        // Without macros, `has` and `all` are just undeclared functions.
        (
            "has(resource.a)",
            0,
            ParseErrorKind::UndeclaredFunction("has".into()),
        ),
        (
            "resource.all(x, true)",
            9,
            ParseErrorKind::UndeclaredFunction("all".into()),
        ),
    ] {
        assert_eq!(run(&STRICT, src), Err(ParseError { offset, kind }), "{src}");
        assert!(run(&FULL, src).is_ok(), "{src}");
    }
}

#[test]
fn parse_errors_are_typed_and_positioned() {
    for (src, offset, kind) in [
        ("", 0, ParseErrorKind::UnexpectedEnd),
        (
            "(true",
            5,
            ParseErrorKind::Expected {
                expected: ")",
                found: Found::End,
            },
        ),
        (
            "true false",
            5,
            ParseErrorKind::Extraneous(Found::Symbol("false")),
        ),
        ("resource.", 9, ParseErrorKind::ExpectedField(Found::End)),
        (
            "other",
            0,
            ParseErrorKind::UndeclaredReference("other".into()),
        ),
        (
            "size(1, 2).startsWith('a', 'b') || timestamp()",
            35,
            ParseErrorKind::ArgumentCount {
                function: "timestamp".into(),
                count: 0,
            },
        ),
        (
            "startsWith('a')",
            0,
            ParseErrorKind::UndeclaredFunction("startsWith".into()),
        ),
        (
            "1u",
            0,
            ParseErrorKind::Unsupported(Unsupported::UnsignedLiterals),
        ),
        (
            "b'x'",
            0,
            ParseErrorKind::Unsupported(Unsupported::BytesLiterals),
        ),
        ("18446744073709551616", 0, ParseErrorKind::IntegerOutOfRange),
        ("1x", 0, ParseErrorKind::MalformedNumber),
        ("'a\\qb'", 2, ParseErrorKind::InvalidEscape),
        ("'a\nb'", 0, ParseErrorKind::NewlineInString),
        ("r'a", 1, ParseErrorKind::UnterminatedString),
        ("1 = 1", 2, ParseErrorKind::TokenRecognition('=')),
        (
            "resource.all(1, true)",
            9,
            ParseErrorKind::MacroVariable("all".into()),
        ),
        (
            "resource.all(x)",
            9,
            ParseErrorKind::MacroArguments("all".into()),
        ),
        ("has(resource)", 0, ParseErrorKind::HasArgument),
        // A macro's variable is in scope only in its body.
        (
            "resource.all(x, true) && x",
            25,
            ParseErrorKind::UndeclaredReference("x".into()),
        ),
    ] {
        assert_eq!(run(&FULL, src), Err(ParseError { offset, kind }), "{src}");
    }
    let e = Program::parse("true &&\n  @", &FULL).err();
    assert_eq!(
        e.as_ref()
            .map(|e| (e.line_column("true &&\n  @"), e.to_string())),
        Some((
            (2, 3),
            "Syntax error: token recognition error at: '@'".to_owned()
        ))
    );
}

#[test]
fn nesting_and_cost_are_bounded() {
    for src in [
        format!("{}true{}", "(".repeat(100), ")".repeat(100)),
        vec!["true"; 100].join(" && "),
        format!("{}1{}", "[".repeat(100), "]".repeat(100)),
        format!("'a'{}", ".size()".repeat(100)),
    ] {
        let e = Program::parse(&src, &FULL).err().map(|e| e.kind);
        assert_eq!(e, Some(ParseErrorKind::TooDeep { max: 64 }), "{src}");
    }
    let ten = "[0,0,0,0,0,0,0,0,0,0]";
    let mut src = "true".to_owned();
    for i in 0..5 {
        src = format!("{ten}.all(v{i}, {src})");
    }
    assert_eq!(run(&FULL, &src), Ok(Err(EvalError::CostLimitExceeded)));
}

#[test]
fn a_field_named_like_a_function_is_a_selection() {
    let doc = Doc(json!({"size": 2}));
    let program = Program::parse("resource.size == 2", &FULL);
    assert_eq!(program.map(|p| p.evaluate_bool(&doc)), Ok(Ok(true)));
}

proptest! {
    #[test]
    fn arbitrary_input_parses_or_is_refused_without_panicking(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("resource"), Just(".name"),
                Just(".all(x, "), Just("x"),
                Just("("), Just(")"),
                Just("["), Just("]"),
                Just("{"), Just("}"),
                Just(":"), Just("?"),
                Just(","), Just("&&"),
                Just("||"), Just("!"),
                Just("-"), Just("*"),
                Just("/"), Just("=="),
                Just(" in "), Just("'x'"),
                Just("1"), Just("0"),
                Just("2.5"), Just("true"),
                Just("size("), Just("has("),
                Just("timestamp('2026-01-01T00:00:00Z')"),
                Just(".getHours("),
            ],
            0..40,
        )
    ) {
        let src = parts.concat();
        for language in [&FULL, &STRICT] {
            if let Ok(program) = Program::parse(&src, language) {
                let _ = program.evaluate(&Doc(json!({"name": "web"})));
            }
        }
    }
}

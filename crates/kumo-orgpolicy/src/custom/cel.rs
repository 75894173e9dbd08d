//! The CEL that custom constraints are written in, evaluated over the resource as a JSON value
//! (`resource.spec.template.spec.containers[0].image`). The language is declared here and
//! interpreted by `kumo-cel`, the same interpreter IAM Conditions use.
//!
//! Field selection follows protobuf semantics, since Google evaluates against the resource's
//! proto message: a field the document lacks reads as its default (an "unset" value that behaves
//! as `""`, `0`, `false`, `[]` or `{}` as the comparison needs), while indexing a map with a key
//! it lacks is an error, as in CEL.

use kumo_cel::{AbsentFields, Features, Function, Language, Receiver, Value};
use serde_json::Value as Json;

/// Maximum nesting of the parsed tree; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// Maximum evaluation steps: nested comprehensions over literal lists grow exponentially within
/// 1000 characters, and an evaluation that stops early fails closed.
const MAX_STEPS: usize = 100_000;

/// A condition that could not be parsed; the text says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ERROR: <input>:1:{column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Why a condition could not be evaluated (the caller fails closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// Functions and methods custom constraints may call, each as `f(x, ...)` or `x.f(...)`;
/// others are refused when the constraint is created, so a stored condition never meets an
/// unknown function.
const FUNCTIONS: &[Function] = &[
    function("size"),
    function("startsWith"),
    function("endsWith"),
    function("contains"),
    function("matches"),
    function("int"),
    function("string"),
    function("lowerAscii"),
    function("upperAscii"),
];

const fn function(name: &'static str) -> Function {
    Function {
        name,
        receiver: Receiver::Either,
        arity: None,
    }
}

const LANGUAGE: Language = Language {
    variables: &["resource"],
    functions: FUNCTIONS,
    features: Features::ALL,
    absent_fields: AbsentFields::Default,
    max_depth: MAX_DEPTH,
    max_steps: MAX_STEPS,
};

/// A parsed custom-constraint condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Program(kumo_cel::Program);

/// `resource` is the document.
struct Resource<'a>(&'a Json);

impl kumo_cel::Activation for Resource<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        (name == "resource").then(|| Value::from_json(self.0))
    }
}

impl Program {
    /// Parses `src`; identifiers other than `resource` (and macro variables) are refused.
    pub fn parse(src: &str) -> Result<Program, ParseError> {
        kumo_cel::Program::parse(src, &LANGUAGE)
            .map(Program)
            .map_err(|e| ParseError {
                column: e.offset + 1,
                message: e.kind.to_string(),
            })
    }

    /// Evaluates against `resource`; the result must be a bool.
    pub fn evaluate(&self, resource: &Json) -> Result<bool, EvalError> {
        self.0
            .evaluate_bool(&Resource(resource))
            .map_err(|e| EvalError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, doc: &Json) -> Result<bool, EvalError> {
        match Program::parse(src) {
            Ok(p) => p.evaluate(doc),
            Err(e) => Err(EvalError(format!("parse: {e}"))),
        }
    }

    #[test]
    fn conditions_over_a_knative_service() {
        let doc = json!({
            "metadata": {"name": "web", "annotations": {"run.googleapis.com/ingress": "internal"}},
            "spec": {"template": {"spec": {"containers": [
                {"image": "us-docker.pkg.dev/p/r/web:1", "resources": {"limits": {"memory": "512Mi"}}},
                {"image": "gcr.io/p/sidecar"}
            ], "timeoutSeconds": 300}}}
        });
        let cases: &[(&str, Result<bool, ()>)] = &[
            (
                "resource.spec.template.spec.containers[0].image.startsWith('us-docker.pkg.dev/')",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.all(c, c.image.startsWith('us-docker.pkg.dev/'))",
                Ok(false),
            ),
            (
                "resource.spec.template.spec.containers.exists(c, c.image.contains('sidecar'))",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.exists_one(c, c.image.endsWith(':1'))",
                Ok(true),
            ),
            (
                "size(resource.spec.template.spec.containers) == 2",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.size() > 1 && true",
                Ok(true),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] in ['internal', 'internal-and-cloud-load-balancing']",
                Ok(true),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] == 'all'",
                Ok(false),
            ),
            (
                "resource.metadata.annotations['run.googleapis.com/ingress'] != 'all'",
                Ok(true),
            ),
            (
                "'run.googleapis.com/ingress' in resource.metadata.annotations",
                Ok(true),
            ),
            ("!('x' in resource.metadata.annotations)", Ok(true)),
            ("resource.metadata.name.matches('^w[a-z]+$')", Ok(true)),
            ("resource.metadata.name.matches(r'^x\\d')", Ok(false)),
            ("has(resource.spec.template.spec.timeoutSeconds)", Ok(true)),
            (
                "has(resource.spec.template.spec.serviceAccountName)",
                Ok(false),
            ),
            (
                "resource.spec.template.spec.timeoutSeconds <= 300",
                Ok(true),
            ),
            ("resource.spec.template.spec.timeoutSeconds > 3.5", Ok(true)),
            // Unset fields read as their defaults.
            (
                "resource.spec.template.spec.serviceAccountName == ''",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containerConcurrency == 0",
                Ok(true),
            ),
            (
                "resource.spec.template.metadata.annotations.all(k, k.startsWith('x'))",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers[0].resources.limits['memory'] == '512Mi'",
                Ok(true),
            ),
            (
                "resource.spec.template.spec.containers.map(c, c.image).filter(i, i.startsWith('gcr.io')).size() == 1",
                Ok(true),
            ),
            ("resource.metadata.name == 'web' ? true : false", Ok(true)),
            (
                "resource.metadata.name == 'web' || resource.metadata.annotations['missing'] == 'x'",
                Ok(true),
            ),
            (
                "resource.metadata.name == 'x' && resource.metadata.annotations['missing'] == 'x'",
                Ok(false),
            ),
            // Errors: a missing map key, an index out of range, a type mismatch, non-bool.
            ("resource.metadata.annotations['missing'] == 'x'", Err(())),
            (
                "resource.spec.template.spec.containers[5].image == ''",
                Err(()),
            ),
            ("resource.metadata.name == 1", Err(())),
            ("resource.metadata.name", Err(())),
        ];
        for (src, expected) in cases {
            let got = eval(src, &doc);
            match expected {
                Ok(b) => assert_eq!(got, Ok(*b), "{src}"),
                Err(()) => assert!(got.is_err(), "{src}: {got:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        for (src, needle) in [
            ("resource.name ==", "mismatched input '<EOF>'"),
            ("request.time > 1", "undeclared reference to 'request'"),
            (
                "resource.name.frobnicate()",
                "undeclared reference to 'frobnicate'",
            ),
            ("resource.x.all(1, true)", "simple name"),
            ("has(resource)", "invalid argument to has()"),
            ("resource.a = 1", "token recognition error"),
            ("'unterminated", "unterminated string"),
            ("(resource.a", "missing ')'"),
        ] {
            let e = Program::parse(src).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(needle)),
                "{src}: {e:?}"
            );
        }
        let deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
        assert!(Program::parse(&deep).is_err());
    }

    #[test]
    fn exponential_conditions_stop_at_the_cost_limit() {
        let ten = "[0,0,0,0,0,0,0,0,0,0]";
        let mut src = "true".to_owned();
        for i in 0..8 {
            src = format!("{ten}.all(v{i}, {src})");
        }
        let err = eval(&src, &json!({}));
        assert_eq!(err, Err(EvalError("evaluation cost limit exceeded".into())));
    }
}

//! Custom-constraint conditions: any text must parse or be refused, and evaluate or fail, without
//! panicking, overflowing the stack or running away (the cost limit), on a Knative-shaped service.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(program) = kumo_orgpolicy::custom::cel::Program::parse(src) else {
        return;
    };
    let resource = serde_json::json!({
        "metadata": {"name": "web", "annotations": {"run.googleapis.com/ingress": "all"}},
        "spec": {"template": {"spec": {"containers": [{"image": "gcr.io/p/i", "ports": [{"containerPort": 8080}]}], "timeoutSeconds": 300}}}
    });
    let _ = program.evaluate(&resource);
});

//! The defaults Cloud Run writes into a service's or job's template on create, update and
//! replace, so that reads (v2, and the v1 view built from it) show what will actually run, as
//! `gcloud run services describe` does. The runtime falls back to the same values; filling them
//! here keeps the stored resource and the behaviour one truth.
//!
//! Sources: google/cloud/run/v2 `revision_template.proto`, `task_template.proto`,
//! `execution_template.proto`, `k8s.min.proto` field docs; cloud.google.com/run/docs/configuring/
//! healthchecks ("The default TCP startup probe"); the `gcloud run services describe --format
//! export` shape in the wire goldens.

use kumo_wire::run_v2::{
    Container, ContainerPort, ExecutionTemplate, Probe, ResourceRequirements, RevisionScaling,
    RevisionTemplate, TaskTemplate, TcpSocketAction,
};

use super::jobs::{DEFAULT_MAX_RETRIES, DEFAULT_TASK_TIMEOUT_SECS};

/// The port a single-container service listens on when it names none (`$PORT`).
pub const DEFAULT_PORT: i32 = 8080;
/// The port name for HTTP/1 (the other allowed name is `h2c`).
pub const DEFAULT_PORT_NAME: &str = "http1";
/// Limits when the container gives none: 1 vCPU, 512 MiB.
pub const DEFAULT_CPU: &str = "1000m";
pub const DEFAULT_MEMORY: &str = "512Mi";
/// `maxInstanceRequestConcurrency` with at least one vCPU; below one vCPU Cloud Run allows 1.
pub const DEFAULT_CONCURRENCY: i32 = 80;
/// `template.scaling.maxInstanceCount` (v1 `autoscaling.knative.dev/maxScale: '100'`).
pub const DEFAULT_MAX_INSTANCES: i32 = 100;
/// The request timeout of a revision.
pub const DEFAULT_REQUEST_TIMEOUT: &str = "300s";
/// The default TCP startup probe: one attempt with a 240 s timeout and period.
const STARTUP_PROBE_SECONDS: i32 = 240;

/// Fills a service's revision template. `service_account` is the resolved runtime identity
/// (the project's default compute account when the client named none), the one the deploy-time
/// `actAs` check was made on.
pub fn fill_revision_template(template: &mut RevisionTemplate, service_account: &str) {
    if template.service_account.is_empty() {
        template.service_account = service_account.to_owned();
    }
    if template.timeout.is_none() {
        template.timeout = Some(DEFAULT_REQUEST_TIMEOUT.to_owned());
    }
    let scaling = template
        .scaling
        .get_or_insert_with(RevisionScaling::default);
    if scaling.max_instance_count.is_none() {
        scaling.max_instance_count = Some(DEFAULT_MAX_INSTANCES);
    }
    // A lone container receives requests on $PORT; with sidecars the client must say which
    // container is the ingress one, so nothing is guessed.
    if let [only] = template.containers.as_mut_slice()
        && only.ports.is_empty()
    {
        only.ports = vec![ContainerPort {
            name: DEFAULT_PORT_NAME.to_owned(),
            container_port: Some(DEFAULT_PORT),
        }];
    }
    for container in &mut template.containers {
        fill_limits(container, true);
        fill_startup_probe(container);
    }
    if template.max_instance_request_concurrency.is_none() {
        let cpu = ingress(&template.containers)
            .and_then(|container| container.resources.as_ref())
            .and_then(|resources| resources.limits.get("cpu"))
            .and_then(|cpu| parse_cpu(cpu));
        template.max_instance_request_concurrency = Some(match cpu {
            Some(cpu) if cpu < 1.0 => 1,
            _ => DEFAULT_CONCURRENCY,
        });
    }
}

/// Fills a job's execution template: `taskCount` 1, and the task template.
pub fn fill_execution_template(template: &mut ExecutionTemplate, service_account: &str) {
    if template.task_count.is_none() {
        template.task_count = Some(1);
    }
    // `parallelism` stays unset: 0 or unset means "as many as possible" when the job runs.
    fill_task_template(
        template.template.get_or_insert_with(TaskTemplate::default),
        service_account,
    );
}

/// Fills a job's task template: `maxRetries` 3, `timeout` 600 s, the runtime identity and the
/// containers' limits.
pub fn fill_task_template(template: &mut TaskTemplate, service_account: &str) {
    if template.service_account.is_empty() {
        template.service_account = service_account.to_owned();
    }
    if template.max_retries.is_none() {
        template.max_retries = Some(DEFAULT_MAX_RETRIES);
    }
    if template.timeout.is_none() {
        template.timeout = Some(format!("{DEFAULT_TASK_TIMEOUT_SECS}s"));
    }
    for container in &mut template.containers {
        // `cpuIdle` is about CPU between requests; a task has no requests.
        fill_limits(container, false);
    }
}

/// The `cpu` and `memory` limits. Without any `resources`, CPU is allocated only during
/// requests (`cpuIdle: true`); a client that sends `resources` states `cpuIdle` itself (the
/// proto: "if ResourceRequirements is set, the caller must explicitly set this field to true
/// to preserve the default behavior").
fn fill_limits(container: &mut Container, serving: bool) {
    let resources = container
        .resources
        .get_or_insert_with(|| ResourceRequirements {
            cpu_idle: serving,
            ..ResourceRequirements::default()
        });
    // UNCONFIRMED: that Cloud Run fills a missing key when the other one is given (describe
    // output always shows both).
    resources
        .limits
        .entry("cpu".to_owned())
        .or_insert_with(|| DEFAULT_CPU.to_owned());
    resources
        .limits
        .entry("memory".to_owned())
        .or_insert_with(|| DEFAULT_MEMORY.to_owned());
}

/// The default TCP startup probe on the container's port, for the container that has one
/// (sidecars without a port get none).
fn fill_startup_probe(container: &mut Container) {
    if container.startup_probe.is_some() {
        return;
    }
    let Some(port) = container.ports.first().and_then(|port| port.container_port) else {
        return;
    };
    container.startup_probe = Some(Probe {
        initial_delay_seconds: None,
        timeout_seconds: Some(STARTUP_PROBE_SECONDS),
        period_seconds: Some(STARTUP_PROBE_SECONDS),
        failure_threshold: Some(1),
        tcp_socket: Some(TcpSocketAction { port: Some(port) }),
        ..Probe::default()
    });
}

/// The container that receives requests: the one with a port, else the first.
fn ingress(containers: &[Container]) -> Option<&Container> {
    containers
        .iter()
        .find(|container| !container.ports.is_empty())
        .or_else(|| containers.first())
}

/// A Kubernetes CPU quantity in vCPUs: "1", "0.5", "1000m".
fn parse_cpu(quantity: &str) -> Option<f64> {
    let value = match quantity.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => quantity.parse::<f64>().ok()?,
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_SA: &str = "123-compute@developer.gserviceaccount.com";

    fn image(image: &str) -> Container {
        Container {
            image: image.to_owned(),
            ..Container::default()
        }
    }

    #[test]
    fn bare_service_template_gets_cloud_runs_defaults() {
        let mut template = RevisionTemplate {
            containers: vec![image("us-docker.pkg.dev/cloudrun/container/hello")],
            ..RevisionTemplate::default()
        };
        fill_revision_template(&mut template, DEFAULT_SA);
        let json = serde_json::to_value(&template).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "scaling": {"maxInstanceCount": 100},
                "timeout": "300s",
                "serviceAccount": DEFAULT_SA,
                "maxInstanceRequestConcurrency": 80,
                "containers": [{
                    "image": "us-docker.pkg.dev/cloudrun/container/hello",
                    "ports": [{"name": "http1", "containerPort": 8080}],
                    "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}, "cpuIdle": true},
                    "startupProbe": {
                        "timeoutSeconds": 240,
                        "periodSeconds": 240,
                        "failureThreshold": 1,
                        "tcpSocket": {"port": 8080}
                    }
                }]
            })
        );
    }

    #[test]
    fn explicit_values_are_kept() {
        let mut container = image("img");
        container.ports = vec![ContainerPort {
            name: "h2c".into(),
            container_port: Some(9000),
        }];
        container.resources = Some(ResourceRequirements {
            limits: [("cpu".to_owned(), "2".to_owned())].into_iter().collect(),
            cpu_idle: false,
            startup_cpu_boost: true,
        });
        let probe = Probe {
            period_seconds: Some(10),
            failure_threshold: Some(3),
            ..Probe::default()
        };
        container.startup_probe = Some(probe.clone());
        let mut template = RevisionTemplate {
            containers: vec![container],
            service_account: "runner@p.iam.gserviceaccount.com".into(),
            timeout: Some("30s".into()),
            max_instance_request_concurrency: Some(5),
            scaling: Some(RevisionScaling {
                min_instance_count: Some(1),
                max_instance_count: Some(3),
            }),
            ..RevisionTemplate::default()
        };
        let before = template.clone();
        fill_revision_template(&mut template, DEFAULT_SA);
        let mut expected = before;
        if let Some(resources) = expected.containers[0].resources.as_mut() {
            resources.limits.insert("memory".into(), "512Mi".into());
        }
        assert_eq!(template, expected);
        // Idempotent: a second pass (the next update) changes nothing.
        let again = template.clone();
        fill_revision_template(&mut template, DEFAULT_SA);
        assert_eq!(template, again);
    }

    #[test]
    fn concurrency_follows_cpu() {
        for (cpu, concurrency) in [
            ("500m", 1),
            ("0.25", 1),
            ("1", 80),
            ("1000m", 80),
            ("4", 80),
        ] {
            let mut container = image("img");
            container.resources = Some(ResourceRequirements {
                limits: [("cpu".to_owned(), cpu.to_owned())].into_iter().collect(),
                ..ResourceRequirements::default()
            });
            let mut template = RevisionTemplate {
                containers: vec![container],
                ..RevisionTemplate::default()
            };
            fill_revision_template(&mut template, DEFAULT_SA);
            assert_eq!(
                template.max_instance_request_concurrency,
                Some(concurrency),
                "{cpu}"
            );
        }
    }

    #[test]
    fn sidecars_get_no_guessed_port_or_probe() {
        let mut ingress_container = image("app");
        ingress_container.ports = vec![ContainerPort {
            name: String::new(),
            container_port: Some(3000),
        }];
        let mut template = RevisionTemplate {
            containers: vec![ingress_container, image("sidecar")],
            ..RevisionTemplate::default()
        };
        fill_revision_template(&mut template, DEFAULT_SA);
        let probe_port = template.containers[0]
            .startup_probe
            .as_ref()
            .and_then(|probe| probe.tcp_socket.as_ref())
            .and_then(|tcp| tcp.port);
        assert_eq!(probe_port, Some(3000));
        assert!(template.containers[1].ports.is_empty());
        assert!(template.containers[1].startup_probe.is_none());
        assert!(template.containers[1].resources.is_some());
    }

    #[test]
    fn job_templates_get_task_defaults() {
        let mut template = ExecutionTemplate {
            template: Some(TaskTemplate {
                containers: vec![image("img")],
                ..TaskTemplate::default()
            }),
            ..ExecutionTemplate::default()
        };
        fill_execution_template(&mut template, DEFAULT_SA);
        let json = serde_json::to_value(&template).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "taskCount": 1,
                "template": {
                    "containers": [{
                        "image": "img",
                        "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}}
                    }],
                    "maxRetries": 3,
                    "timeout": "600s",
                    "serviceAccount": DEFAULT_SA
                }
            })
        );
        let mut explicit = ExecutionTemplate {
            task_count: Some(4),
            parallelism: Some(2),
            template: Some(TaskTemplate {
                containers: vec![image("img")],
                max_retries: Some(0),
                timeout: Some("60s".into()),
                service_account: "runner@p.iam.gserviceaccount.com".into(),
                ..TaskTemplate::default()
            }),
            ..ExecutionTemplate::default()
        };
        fill_execution_template(&mut explicit, DEFAULT_SA);
        assert_eq!(explicit.task_count, Some(4));
        assert_eq!(explicit.parallelism, Some(2));
        let task = explicit.template.unwrap_or_default();
        assert_eq!(task.max_retries, Some(0));
        assert_eq!(task.timeout.as_deref(), Some("60s"));
        assert_eq!(task.service_account, "runner@p.iam.gserviceaccount.com");
    }
}

//! Executions and tasks of Cloud Run jobs: the API methods (get, list, delete, cancel; tasks get
//! and list) and the runner that drives one execution in the background. The runner starts at
//! most `parallelism` task attempts at once through [`crate::runtime::Runtime::run_task`], retries
//! a failed task up to `maxRetries` times, keeps the Execution and Task records current as
//! attempts start and end, and completes the operation `jobs.run` returned when the execution
//! is over.
//!
//! Cancellation goes through the store, not through memory: `cancel` marks the execution's
//! `Completed` condition `CANCELLING`, and the runner, which looks at its execution between
//! events, cancels the running attempts. A deleted execution (or job) stops its runner the same
//! way. An execution whose runner is lost (Kumo stopped mid-run) stays as it was.

use std::collections::VecDeque;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use kumo_store::{ListQuery, ParentFilter, Record, Write};
use kumo_wire::protobuf::format_timestamp;
use kumo_wire::run_v2::{
    CompletionStatus, Condition, ConditionState, Execution, ExecutionReason, Job,
    ListExecutionsResponse, ListTasksResponse, Task, TaskAttemptResult, TaskTemplate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::records::{Collection, encode};
use crate::run::jobs::{job_name, page_window};
use crate::runtime::{CancelToken, TaskEnd, TaskOutcome, TaskSpec};
use crate::{Call, Control, Error, ProjectInfo, ResourceRef};

/// How often a runner looks for a cancellation while attempts run.
const CANCEL_POLL: StdDuration = StdDuration::from_millis(200);

/// Everything the runner needs about one execution.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionPlan {
    /// `projects/P/locations/L/jobs/J/executions/E`.
    pub execution_name: String,
    /// `E`.
    pub execution_id: String,
    /// The operation `jobs.run` returned.
    pub operation_name: String,
    /// `projects/P/locations/L/jobs/J`.
    pub job_name: String,
    /// `J`.
    pub job_id: String,
    /// The job's project.
    pub project: ProjectInfo,
    /// Region.
    pub location: String,
    /// Tasks of the execution.
    pub task_count: i32,
    /// At most this many at once (0 = all).
    pub parallelism: i32,
    /// Retries per task.
    pub max_retries: i32,
    /// Per-attempt timeout.
    pub timeout: StdDuration,
    /// The task template after overrides.
    pub template: TaskTemplate,
    /// The runtime identity.
    pub service_account: String,
}

/// A task's full name; Cloud Run names tasks `EXECUTION-taskINDEX`.
pub(crate) fn task_name(execution_name: &str, execution_id: &str, index: i32) -> String {
    format!("{execution_name}/tasks/{execution_id}-task{index}")
}

fn condition(kind: &str, state: ConditionState, now: &str) -> Condition {
    Condition {
        kind: kind.to_owned(),
        state: Some(state),
        last_transition_time: Some(now.to_owned()),
        ..Condition::default()
    }
}

/// The conditions of a new execution: nothing has happened yet.
pub(crate) fn initial_conditions(now: &str) -> Vec<Condition> {
    vec![
        condition("Completed", ConditionState::Pending, now),
        condition("ResourcesAvailable", ConditionState::Pending, now),
        condition("Started", ConditionState::Pending, now),
    ]
}

/// The conditions of a task that has not started.
pub(crate) fn pending_task_conditions(now: &str) -> Vec<Condition> {
    vec![
        condition("Completed", ConditionState::Pending, now),
        condition("Started", ConditionState::Pending, now),
    ]
}

fn set_condition(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions
        .iter_mut()
        .find(|existing| existing.kind == new.kind)
    {
        Some(existing) => *existing = new,
        None => conditions.push(new),
    }
}

/// Whether `cancel` has been asked for.
fn cancelling(execution: &Execution) -> bool {
    execution
        .conditions
        .iter()
        .any(|c| c.kind == "Completed" && c.execution_reason == Some(ExecutionReason::Cancelling))
}

/// Whether the execution is over (succeeded, failed or cancelled).
fn completed(execution: &Execution) -> bool {
    execution.completion_time.is_some()
}

fn any<T: Serialize>(type_name: &str, message: &T) -> Result<Value, Error> {
    kumo_wire::protobuf::to_any(type_name, message).map_err(Error::internal)
}

fn execution_not_found(project: &str, location: &str, execution: &str) -> Error {
    Error::not_found(format!(
        "Resource '{execution}' of kind 'EXECUTION' in region '{location}' in project '{project}' does not exist."
    ))
}

fn task_not_found(project: &str, location: &str, task: &str) -> Error {
    Error::not_found(format!(
        "Resource '{task}' of kind 'TASK' in region '{location}' in project '{project}' does not exist."
    ))
}

/// Starts the runner of an execution on the current tokio runtime.
pub(crate) fn spawn(control: Control, plan: ExecutionPlan) -> Result<(), Error> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::internal("jobs.run outside a tokio runtime"))?;
    handle.spawn(async move {
        if let Err(error) = drive(&control, &plan).await {
            tracing::error!(%error, execution = %plan.execution_name, "execution runner failed");
            if let Err(error) = control.finish_operation(&plan.operation_name, None, Err(error)) {
                tracing::error!(%error, "could not complete the run operation");
            }
        }
    });
    Ok(())
}

/// Counters the runner keeps in memory and writes to the execution.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    running: i32,
    succeeded: i32,
    failed: i32,
    cancelled: i32,
    retried: i32,
}

async fn drive(control: &Control, plan: &ExecutionPlan) -> Result<(), Error> {
    let cancel = CancelToken::new();
    let task_count = plan.task_count.max(0);
    let limit = if plan.parallelism <= 0 || plan.parallelism > task_count {
        task_count
    } else {
        plan.parallelism
    };
    let mut queue: VecDeque<(i32, u32)> = (0..task_count).map(|index| (index, 0)).collect();
    let mut running = tokio::task::JoinSet::new();
    let mut counts = Counts::default();
    let mut first_failure: Option<String> = None;
    let mut cancelled = false;
    let mut started = false;
    loop {
        while !cancelled && running.len() < usize::try_from(limit).unwrap_or(0) {
            let Some((index, attempt)) = queue.pop_front() else {
                break;
            };
            if !started {
                started = true;
                control.execution_started(plan)?;
            }
            let now = format_timestamp(&control.now());
            let task = task_name(&plan.execution_name, &plan.execution_id, index);
            control.update_doc::<Task>(Collection::Tasks, &task, |task| {
                task.start_time = Some(now.clone());
                task.retried = (attempt > 0).then_some(i32::try_from(attempt).unwrap_or(i32::MAX));
                set_condition(
                    &mut task.conditions,
                    condition("Started", ConditionState::Succeeded, &now),
                );
            })?;
            counts.running += 1;
            control.write_counts(plan, counts)?;
            let spec = task_spec(plan, index, attempt, cancel.clone());
            let runtime_control = control.clone();
            running.spawn(async move {
                let outcome = runtime_control.runtime().run_task(spec).await;
                (index, attempt, outcome)
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                let (index, attempt, outcome) = joined.map_err(|error| Error::internal(format!("task attempt panicked: {error}")))?;
                counts.running -= 1;
                let task = task_name(&plan.execution_name, &plan.execution_id, index);
                let task_id = format!("{}-task{index}", plan.execution_id);
                let outcome = outcome.unwrap_or_else(|error| start_failure(control.now(), &error));
                if outcome.succeeded() {
                    counts.succeeded += 1;
                    control.task_finished(&task, &outcome, TaskResult::Succeeded)?;
                } else if outcome.end == TaskEnd::Cancelled || cancelled {
                    counts.cancelled += 1;
                    control.task_finished(&task, &outcome, TaskResult::Cancelled)?;
                } else if i64::from(attempt) < i64::from(plan.max_retries) {
                    counts.retried += 1;
                    control.task_finished(&task, &outcome, TaskResult::Retrying)?;
                    queue.push_back((index, attempt + 1));
                } else {
                    counts.failed += 1;
                    control.task_finished(&task, &outcome, TaskResult::Failed)?;
                    let message = outcome.message.clone().unwrap_or_else(|| "The container exited with an error.".to_owned());
                    first_failure.get_or_insert(format!("Task {task_id} failed with message: {message}"));
                }
                control.write_counts(plan, counts)?;
            }
            () = tokio::time::sleep(CANCEL_POLL), if !cancelled => {
                let current = control.load::<Execution>(Collection::Executions, &plan.execution_name)?;
                if current.as_ref().is_none_or(|stored| cancelling(&stored.value) || completed(&stored.value)) {
                    cancelled = true;
                    cancel.cancel();
                }
            }
        }
        if !cancelled {
            // A cancellation that arrived while the last attempts ended must still win.
            let current =
                control.load::<Execution>(Collection::Executions, &plan.execution_name)?;
            if current
                .as_ref()
                .is_none_or(|stored| cancelling(&stored.value) || completed(&stored.value))
            {
                cancelled = true;
                cancel.cancel();
            }
        }
    }
    if cancelled {
        // Tasks that never started are cancelled too.
        for (index, _) in queue.drain(..) {
            counts.cancelled += 1;
            let task = task_name(&plan.execution_name, &plan.execution_id, index);
            control.task_never_ran(&task)?;
        }
        control.write_counts(plan, counts)?;
    }
    // Completed by someone else meanwhile (start-up recovery): that state stands.
    let current = control.load::<Execution>(Collection::Executions, &plan.execution_name)?;
    if current.is_some_and(|stored| completed(&stored.value)) {
        return Ok(());
    }
    control.execution_finished(plan, counts, cancelled, first_failure)
}

fn task_spec(plan: &ExecutionPlan, index: i32, attempt: u32, cancel: CancelToken) -> TaskSpec {
    let container = plan
        .template
        .containers
        .first()
        .cloned()
        .unwrap_or_default();
    let env = container
        .env
        .iter()
        .filter(|variable| variable.value_source.is_none())
        .map(|variable| {
            (
                variable.name.clone(),
                variable.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    TaskSpec {
        project: plan.project.id.clone(),
        project_number: plan.project.number.clone(),
        region: plan.location.clone(),
        job: plan.job_id.clone(),
        execution: plan.execution_id.clone(),
        task: format!("{}-task{index}", plan.execution_id),
        index: u32::try_from(index).unwrap_or(0),
        attempt,
        count: u32::try_from(plan.task_count).unwrap_or(0),
        image: container.image.clone(),
        command: container.command.clone(),
        args: container.args.clone(),
        env,
        working_dir: (!container.working_dir.is_empty()).then(|| container.working_dir.clone()),
        service_account: plan.service_account.clone(),
        timeout: plan.timeout,
        cancel,
    }
}

/// An attempt that could not start (unknown image, spawn failure) counts as a failed attempt.
fn start_failure(now: DateTime<Utc>, error: &Error) -> TaskOutcome {
    TaskOutcome {
        end: TaskEnd::Exited,
        exit_code: None,
        start_time: now,
        end_time: now,
        message: Some(error.public_message()),
    }
}

/// How an attempt ended, for the task record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskResult {
    Succeeded,
    Retrying,
    Failed,
    Cancelled,
}

impl Control {
    /// Reads, changes and writes one document with optimistic concurrency, retrying when
    /// another writer got in between. `None` when the document is gone.
    fn update_doc<T: DeserializeOwned + Serialize>(
        &self,
        collection: Collection,
        name: &str,
        mut change: impl FnMut(&mut T),
    ) -> Result<Option<T>, Error> {
        for _ in 0..16 {
            let Some(stored) = self.load::<T>(collection, name)? else {
                return Ok(None);
            };
            let mut value = stored.value;
            change(&mut value);
            let write = Write::Update {
                collection: collection.as_str().to_owned(),
                name: name.to_owned(),
                data: encode(&value)?,
                expected_revision: Some(stored.record.revision),
            };
            match self.commit(&[write]) {
                Ok(_) => return Ok(Some(value)),
                Err(Error::Aborted { .. }) => continue,
                // Deleted in between: the runner stops on its next look.
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(other) => return Err(other),
            }
        }
        Err(Error::internal(format!(
            "could not update {name}: too many concurrent writes"
        )))
    }

    /// The execution and the job reference say it has started.
    fn execution_started(&self, plan: &ExecutionPlan) -> Result<(), Error> {
        let now = format_timestamp(&self.now());
        self.update_doc::<Execution>(Collection::Executions, &plan.execution_name, |execution| {
            execution.start_time = Some(now.clone());
            set_condition(
                &mut execution.conditions,
                condition("ResourcesAvailable", ConditionState::Succeeded, &now),
            );
            set_condition(
                &mut execution.conditions,
                condition("Started", ConditionState::Succeeded, &now),
            );
        })?;
        self.update_doc::<Job>(Collection::Jobs, &plan.job_name, |job| {
            if let Some(reference) = job
                .latest_created_execution
                .as_mut()
                .filter(|r| r.name == plan.execution_name)
            {
                reference.completion_status = Some(CompletionStatus::ExecutionRunning);
            }
        })?;
        Ok(())
    }

    fn write_counts(&self, plan: &ExecutionPlan, counts: Counts) -> Result<(), Error> {
        let now = format_timestamp(&self.now());
        self.update_doc::<Execution>(Collection::Executions, &plan.execution_name, |execution| {
            execution.running_count = (counts.running > 0).then_some(counts.running);
            execution.succeeded_count = (counts.succeeded > 0).then_some(counts.succeeded);
            execution.failed_count = (counts.failed > 0).then_some(counts.failed);
            execution.cancelled_count = (counts.cancelled > 0).then_some(counts.cancelled);
            execution.retried_count = (counts.retried > 0).then_some(counts.retried);
            execution.update_time = Some(now.clone());
        })?;
        Ok(())
    }

    fn task_finished(
        &self,
        task: &str,
        outcome: &TaskOutcome,
        result: TaskResult,
    ) -> Result<(), Error> {
        let end = format_timestamp(&outcome.end_time);
        let (code, message) = match (result, outcome.end) {
            (TaskResult::Succeeded, _) => (0, String::new()),
            (TaskResult::Cancelled, _) | (_, TaskEnd::Cancelled) => (
                1,
                outcome
                    .message
                    .clone()
                    .unwrap_or_else(|| "The task was cancelled.".to_owned()),
            ),
            (_, TaskEnd::TimedOut) => (4, outcome.message.clone().unwrap_or_default()),
            _ => (
                2,
                outcome
                    .message
                    .clone()
                    .unwrap_or_else(|| "The container exited with an error.".to_owned()),
            ),
        };
        self.update_doc::<Task>(Collection::Tasks, task, |task| {
            task.last_attempt_result = Some(TaskAttemptResult {
                status: Some(kumo_wire::rpc::Status {
                    code,
                    message: message.clone(),
                    details: Vec::new(),
                }),
                exit_code: outcome.exit_code,
                term_signal: None,
            });
            let completed = match result {
                TaskResult::Retrying => return,
                TaskResult::Succeeded => condition("Completed", ConditionState::Succeeded, &end),
                TaskResult::Failed => Condition {
                    message: message.clone(),
                    execution_reason: Some(ExecutionReason::NonZeroExitCode),
                    ..condition("Completed", ConditionState::Failed, &end)
                },
                TaskResult::Cancelled => Condition {
                    message: message.clone(),
                    execution_reason: Some(ExecutionReason::Cancelled),
                    ..condition("Completed", ConditionState::Failed, &end)
                },
            };
            task.completion_time = Some(end.clone());
            task.reconciling = false;
            set_condition(&mut task.conditions, completed);
        })?;
        Ok(())
    }

    fn task_never_ran(&self, task: &str) -> Result<(), Error> {
        let now = format_timestamp(&self.now());
        self.update_doc::<Task>(Collection::Tasks, task, |task| {
            task.completion_time = Some(now.clone());
            task.reconciling = false;
            set_condition(
                &mut task.conditions,
                Condition {
                    message: "The task was cancelled before it started.".to_owned(),
                    execution_reason: Some(ExecutionReason::Cancelled),
                    ..condition("Completed", ConditionState::Failed, &now)
                },
            );
        })?;
        Ok(())
    }

    /// Final state of the execution, the job's reference to it, and the `run` operation.
    fn execution_finished(
        &self,
        plan: &ExecutionPlan,
        counts: Counts,
        cancelled: bool,
        first_failure: Option<String>,
    ) -> Result<(), Error> {
        let now = self.now();
        let now_text = format_timestamp(&now);
        let (state, reason, message, status) = if cancelled {
            (
                ConditionState::Failed,
                Some(ExecutionReason::Cancelled),
                "The execution was cancelled.".to_owned(),
                CompletionStatus::ExecutionCancelled,
            )
        } else if counts.failed > 0 {
            (
                ConditionState::Failed,
                Some(ExecutionReason::NonZeroExitCode),
                first_failure.unwrap_or_else(|| {
                    format!("{} of {} tasks failed.", counts.failed, plan.task_count)
                }),
                CompletionStatus::ExecutionFailed,
            )
        } else {
            (
                ConditionState::Succeeded,
                None,
                String::new(),
                CompletionStatus::ExecutionSucceeded,
            )
        };
        let updated = self.update_doc::<Execution>(
            Collection::Executions,
            &plan.execution_name,
            |execution| {
                execution.completion_time = Some(now_text.clone());
                execution.update_time = Some(now_text.clone());
                execution.reconciling = false;
                execution.running_count = None;
                set_condition(
                    &mut execution.conditions,
                    Condition {
                        message: message.clone(),
                        execution_reason: reason,
                        ..condition("Completed", state, &now_text)
                    },
                );
            },
        )?;
        if updated.is_none() {
            // Deleted while running: the operation ends with the deletion.
            let error = execution_not_found(&plan.project.id, &plan.location, &plan.execution_id);
            self.finish_operation(&plan.operation_name, None, Err(error))?;
            return Ok(());
        }
        self.update_doc::<Job>(Collection::Jobs, &plan.job_name, |job| {
            if let Some(reference) = job
                .latest_created_execution
                .as_mut()
                .filter(|r| r.name == plan.execution_name)
            {
                reference.completion_status = Some(status);
                reference.completion_time = Some(now_text.clone());
            }
        })?;
        let Some(record) = self
            .store()
            .get(Collection::Executions.as_str(), &plan.execution_name)
            .map_err(crate::records::store_error)?
        else {
            return Ok(());
        };
        let view = self.execution_view(&record)?;
        let metadata = any("google.cloud.run.v2.Execution", &view)?;
        // The operation completes with the Execution whatever its outcome: failed and
        // cancelled executions do not set `operation.error`; clients read the counts
        // (3rd-party: apache/airflow#38028 and #67050 check failedCount/cancelledCount because
        // `operation.result()` does not raise).
        self.finish_operation(&plan.operation_name, Some(metadata.clone()), Ok(metadata))?;
        Ok(())
    }

    /// The stored execution with its output fields taken from the record.
    pub(crate) fn execution_view(&self, record: &Record) -> Result<Execution, Error> {
        let mut execution: Execution = self.decode(record.clone())?.value;
        execution.name = record.name.clone();
        execution.uid = record.uid.clone();
        execution.etag = format!("\"{}\"", record.etag);
        execution.create_time = Some(format_timestamp(&record.create_time));
        execution.update_time = Some(format_timestamp(&record.update_time));
        Ok(execution)
    }

    fn task_view(&self, record: &Record) -> Result<Task, Error> {
        let mut task: Task = self.decode(record.clone())?.value;
        task.name = record.name.clone();
        task.uid = record.uid.clone();
        task.etag = format!("\"{}\"", record.etag);
        task.create_time = Some(format_timestamp(&record.create_time));
        task.update_time = Some(format_timestamp(&record.update_time));
        Ok(task)
    }

    /// The job resource of an execution method after checking `permission` on it.
    fn execution_scope(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        permission: &str,
        named: &str,
    ) -> Result<(ProjectInfo, ResourceRef), Error> {
        let project = self.run_project(call, project, permission, named)?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job.to_owned(),
        };
        self.authorize(call, permission, &resource)?;
        Ok((project, resource))
    }

    fn load_execution(
        &self,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
    ) -> Result<Record, Error> {
        let name = format!(
            "{}/executions/{execution}",
            job_name(project, location, job)
        );
        self.store()
            .get(Collection::Executions.as_str(), &name)
            .map_err(crate::records::store_error)?
            .ok_or_else(|| execution_not_found(project, location, execution))
    }

    /// `executions.get`.
    pub fn get_execution(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
    ) -> Result<Execution, Error> {
        let named = format!(
            "{}/executions/{execution}",
            job_name(project, location, job)
        );
        let (project, _) =
            self.execution_scope(call, project, location, job, "run.executions.get", &named)?;
        let record = self.load_execution(&project.id, location, job, execution)?;
        self.execution_view(&record)
    }

    /// `executions.list`, newest first; job `-` lists the executions of every job of the
    /// location (the permission is then checked on the project).
    pub fn list_executions(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<ListExecutionsResponse, Error> {
        let permission = "run.executions.list";
        let named = job_name(project, location, job);
        let parent = if job == "-" {
            let project = self.run_project(call, project, permission, &named)?;
            self.authorize(call, permission, &ResourceRef::Project(project.id.clone()))?;
            let prefix = format!("projects/{}/locations/{location}/jobs/", project.id);
            ParentFilter::StartsWith(prefix)
        } else {
            let (project, _) =
                self.execution_scope(call, project, location, job, permission, &named)?;
            let parent = job_name(&project.id, location, job);
            if self.load::<Value>(Collection::Jobs, &parent)?.is_none() {
                return Err(crate::run::jobs::job_not_found(&project.id, location, job));
            }
            ParentFilter::Is(parent)
        };
        let mut records = self.list_under(Collection::Executions, parent)?;
        records.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| b.name.cmp(&a.name))
        });
        let (start, end, next) = page_window(records.len(), page_size, page_token)?;
        let executions = records[start..end]
            .iter()
            .map(|record| self.execution_view(record))
            .collect::<Result<_, _>>()?;
        Ok(ListExecutionsResponse {
            executions,
            next_page_token: next,
        })
    }

    /// `executions.delete`: removes the execution and its tasks; a running one stops. Returns
    /// the done operation with the deleted execution.
    pub fn delete_execution(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
        etag: Option<&str>,
    ) -> Result<Value, Error> {
        let named = format!(
            "{}/executions/{execution}",
            job_name(project, location, job)
        );
        let (project, _) = self.execution_scope(
            call,
            project,
            location,
            job,
            "run.executions.delete",
            &named,
        )?;
        let record = self.load_execution(&project.id, location, job, execution)?;
        check_etag(etag, &record)?;
        let mut view = self.execution_view(&record)?;
        view.delete_time = Some(format_timestamp(&self.now()));
        let tasks = self
            .store()
            .list(
                Collection::Tasks.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(record.name.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        let mut writes: Vec<Write> = tasks
            .records
            .into_iter()
            .map(|task| Write::HardDelete {
                collection: Collection::Tasks.as_str().to_owned(),
                name: task.name,
                expected_revision: None,
            })
            .collect();
        writes.push(Write::HardDelete {
            collection: Collection::Executions.as_str().to_owned(),
            name: record.name.clone(),
            expected_revision: None,
        });
        self.commit(&writes)?;
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Execution", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any("google.cloud.run.v2.Execution", &view)?),
        )
    }

    /// `executions.cancel`: needs `run.executions.cancel` (and, through v1, `run.jobs.run`).
    /// Marks the execution `CANCELLING`; its runner stops the attempts and completes it as
    /// cancelled. Returns the done operation with the execution as marked.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the request message's fields"
    )]
    pub fn cancel_execution(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
        etag: Option<&str>,
        v1: bool,
    ) -> Result<Value, Error> {
        let named = format!(
            "{}/executions/{execution}",
            job_name(project, location, job)
        );
        let (project, resource) = self.execution_scope(
            call,
            project,
            location,
            job,
            "run.executions.cancel",
            &named,
        )?;
        if v1 {
            self.authorize(call, "run.jobs.run", &resource)?;
        }
        let record = self.load_execution(&project.id, location, job, execution)?;
        check_etag(etag, &record)?;
        let current = self.execution_view(&record)?;
        if completed(&current) {
            return Err(Error::failed_precondition(format!(
                "Execution {execution} has already completed and cannot be cancelled."
            )));
        }
        let now = format_timestamp(&self.now());
        self.update_doc::<Execution>(Collection::Executions, &record.name, |execution| {
            if !completed(execution) {
                set_condition(
                    &mut execution.conditions,
                    Condition {
                        message: "The execution is being cancelled.".to_owned(),
                        execution_reason: Some(ExecutionReason::Cancelling),
                        ..condition("Completed", ConditionState::Pending, &now)
                    },
                );
            }
        })?;
        let record = self.load_execution(&project.id, location, job, execution)?;
        let view = self.execution_view(&record)?;
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Execution", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any("google.cloud.run.v2.Execution", &view)?),
        )
    }

    /// `tasks.get`.
    pub fn get_task(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
        task: &str,
    ) -> Result<Task, Error> {
        let named = format!(
            "{}/executions/{execution}/tasks/{task}",
            job_name(project, location, job)
        );
        let (project, _) =
            self.execution_scope(call, project, location, job, "run.tasks.get", &named)?;
        let name = format!(
            "{}/executions/{execution}/tasks/{task}",
            job_name(&project.id, location, job)
        );
        let record = self
            .store()
            .get(Collection::Tasks.as_str(), &name)
            .map_err(crate::records::store_error)?
            .ok_or_else(|| task_not_found(&project.id, location, task))?;
        self.task_view(&record)
    }

    /// `tasks.list`, by index.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the request message's fields"
    )]
    pub fn list_tasks(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<ListTasksResponse, Error> {
        let named = format!(
            "{}/executions/{execution}",
            job_name(project, location, job)
        );
        let (project, _) =
            self.execution_scope(call, project, location, job, "run.tasks.list", &named)?;
        let record = self.load_execution(&project.id, location, job, execution)?;
        let page = self
            .store()
            .list(
                Collection::Tasks.as_str(),
                &ListQuery {
                    parent: ParentFilter::Is(record.name.clone()),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        let mut tasks: Vec<Task> = page
            .records
            .iter()
            .map(|record| self.task_view(record))
            .collect::<Result<_, _>>()?;
        tasks.sort_by_key(|task| task.index.unwrap_or(0));
        let (start, end, next) = page_window(tasks.len(), page_size, page_token)?;
        Ok(ListTasksResponse {
            tasks: tasks[start..end].to_vec(),
            next_page_token: next,
        })
    }

    /// v1 addresses executions and tasks by namespace and name only: where the execution (or,
    /// with `tasks`, the task) named `name` of `project` lives, as `(location, job, execution)`.
    /// No authorization: callers go on to a method that authorizes on the job it finds.
    pub fn locate_execution(
        &self,
        project: &str,
        name: &str,
        tasks: bool,
    ) -> Result<Option<(String, String, String)>, Error> {
        let Some(project) = self.resolve_project(project)? else {
            return Ok(None);
        };
        let collection = if tasks {
            Collection::Tasks
        } else {
            Collection::Executions
        };
        let kind = if tasks { "/tasks/" } else { "/executions/" };
        let prefix = format!("projects/{}/locations/", project.id);
        let records = self.list_under(collection, ParentFilter::StartsWith(prefix.clone()))?;
        Ok(records.iter().find_map(|record| {
            let rest = record.name.strip_prefix(&prefix)?;
            let (path, last) = rest.rsplit_once(kind)?;
            if last != name {
                return None;
            }
            // path: `L/jobs/J` (execution) or `L/jobs/J/executions/E` (task).
            let (location, job_path) = path.split_once("/jobs/")?;
            let (job, execution) = match job_path.split_once("/executions/") {
                Some((job, execution)) => (job, execution),
                None => (job_path, name),
            };
            Some((location.to_owned(), job.to_owned(), execution.to_owned()))
        }))
    }

    /// v1 `namespaces.executions.list`: every execution of the project (in `location`, or in
    /// every region), newest first. `run.executions.list` on the project.
    pub fn list_project_executions(
        &self,
        call: &Call,
        project: &str,
        location: Option<&str>,
    ) -> Result<Vec<Execution>, Error> {
        let permission = "run.executions.list";
        let named = format!("namespaces/{project}");
        let project = self.run_project(call, project, permission, &named)?;
        self.authorize(call, permission, &ResourceRef::Project(project.id.clone()))?;
        let prefix = match location {
            Some(location) => format!("projects/{}/locations/{location}/jobs/", project.id),
            None => format!("projects/{}/locations/", project.id),
        };
        let mut records =
            self.list_under(Collection::Executions, ParentFilter::StartsWith(prefix))?;
        records.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| b.name.cmp(&a.name))
        });
        records
            .iter()
            .map(|record| self.execution_view(record))
            .collect()
    }

    /// v1 `namespaces.tasks.list`: every task of the project (in `location`, or everywhere), by
    /// execution then index. Google checks `run.executions.list` and `run.tasks.list` on the
    /// project.
    pub fn list_project_tasks(
        &self,
        call: &Call,
        project: &str,
        location: Option<&str>,
    ) -> Result<Vec<Task>, Error> {
        let named = format!("namespaces/{project}");
        let project = self.run_project(call, project, "run.tasks.list", &named)?;
        let resource = ResourceRef::Project(project.id.clone());
        self.authorize(call, "run.executions.list", &resource)?;
        self.authorize(call, "run.tasks.list", &resource)?;
        let prefix = match location {
            Some(location) => format!("projects/{}/locations/{location}/jobs/", project.id),
            None => format!("projects/{}/locations/", project.id),
        };
        let records = self.list_under(Collection::Tasks, ParentFilter::StartsWith(prefix))?;
        let mut tasks: Vec<Task> = records
            .iter()
            .map(|record| self.task_view(record))
            .collect::<Result<_, _>>()?;
        tasks.sort_by(|a, b| {
            a.execution
                .cmp(&b.execution)
                .then_with(|| a.index.unwrap_or(0).cmp(&b.index.unwrap_or(0)))
        });
        Ok(tasks)
    }

    /// v1 `namespaces.tasks.get`: Google checks `run.executions.get` as well as
    /// `run.tasks.get`.
    pub fn get_task_v1(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        execution: &str,
        task: &str,
    ) -> Result<Task, Error> {
        let named = format!(
            "{}/executions/{execution}/tasks/{task}",
            job_name(project, location, job)
        );
        self.execution_scope(call, project, location, job, "run.executions.get", &named)?;
        self.get_task(call, project, location, job, execution, task)
    }

    /// Executions that a previous Kumo process was running when it stopped cannot resume: their
    /// task processes stopped with it. Marks each one failed (`JOB_STATUS_SERVICE_POLLING_ERROR`,
    /// Cloud Run's reason for a lost execution status), its unfinished tasks cancelled, and
    /// completes its `run` operation. The binary calls this once at start-up, before serving;
    /// returns how many executions were recovered.
    pub fn recover_executions(&self) -> Result<usize, Error> {
        let executions = self
            .store()
            .list(Collection::Executions.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        let operations = self
            .store()
            .list(Collection::Operations.as_str(), &ListQuery::default())
            .map_err(crate::records::store_error)?;
        let now = format_timestamp(&self.now());
        let mut recovered = 0;
        for record in executions.records {
            if completed(&self.execution_view(&record)?) {
                continue;
            }
            let tasks = self
                .store()
                .list(
                    Collection::Tasks.as_str(),
                    &ListQuery {
                        parent: ParentFilter::Is(record.name.clone()),
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            let mut interrupted = 0;
            for task in tasks.records {
                let value: Task = self.decode(task.clone())?.value;
                if value.completion_time.is_none() {
                    interrupted += 1;
                    self.task_never_ran(&task.name)?;
                }
            }
            self.update_doc::<Execution>(Collection::Executions, &record.name, |execution| {
                execution.completion_time = Some(now.clone());
                execution.reconciling = false;
                execution.running_count = None;
                execution.cancelled_count =
                    Some(execution.cancelled_count.unwrap_or(0) + interrupted)
                        .filter(|count| *count > 0);
                set_condition(
                    &mut execution.conditions,
                    Condition {
                        message:
                            "The execution was interrupted: Kumo stopped while it was running."
                                .to_owned(),
                        execution_reason: Some(ExecutionReason::JobStatusServicePollingError),
                        ..condition("Completed", ConditionState::Failed, &now)
                    },
                );
            })?;
            if let Some(job) = record.parent.as_deref() {
                self.update_doc::<Job>(Collection::Jobs, job, |job| {
                    if let Some(reference) = job
                        .latest_created_execution
                        .as_mut()
                        .filter(|r| r.name == record.name)
                    {
                        reference.completion_status = Some(CompletionStatus::ExecutionFailed);
                        reference.completion_time = Some(now.clone());
                    }
                })?;
            }
            let Some(current) = self
                .store()
                .get(Collection::Executions.as_str(), &record.name)
                .map_err(crate::records::store_error)?
            else {
                continue;
            };
            let response = any(
                "google.cloud.run.v2.Execution",
                &self.execution_view(&current)?,
            )?;
            for operation in &operations.records {
                let pending = operation.data["done"] != serde_json::json!(true);
                if pending
                    && operation.data["metadata"]["name"].as_str() == Some(record.name.as_str())
                {
                    self.finish_operation(
                        &operation.name,
                        Some(response.clone()),
                        Ok(response.clone()),
                    )?;
                }
            }
            recovered += 1;
        }
        Ok(recovered)
    }

    /// Waits until the execution is over (tests and `--wait`-style callers); returns it.
    pub async fn wait_execution(
        &self,
        execution_name: &str,
        timeout: StdDuration,
    ) -> Result<Execution, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let Some(record) = self
                .store()
                .get(Collection::Executions.as_str(), execution_name)
                .map_err(crate::records::store_error)?
            else {
                return Err(Error::not_found(format!(
                    "Execution {execution_name} not found."
                )));
            };
            let execution = self.execution_view(&record)?;
            if completed(&execution) || tokio::time::Instant::now() >= deadline {
                return Ok(execution);
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }
}

fn check_etag(etag: Option<&str>, record: &Record) -> Result<(), Error> {
    match etag
        .map(|etag| etag.trim_matches('"'))
        .filter(|etag| !etag.is_empty())
    {
        Some(etag) if etag != record.etag => Err(Error::aborted(format!(
            "The etag does not match the current etag of {}.",
            record.name
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_follow_cloud_run() {
        assert_eq!(
            task_name(
                "projects/p/locations/l/jobs/j/executions/j-abcde",
                "j-abcde",
                2
            ),
            "projects/p/locations/l/jobs/j/executions/j-abcde/tasks/j-abcde-task2"
        );
    }

    #[test]
    fn cancelling_is_read_from_the_completed_condition() {
        let mut execution = Execution {
            conditions: initial_conditions("2025-01-01T00:00:00Z"),
            ..Execution::default()
        };
        assert!(!cancelling(&execution));
        set_condition(
            &mut execution.conditions,
            Condition {
                execution_reason: Some(ExecutionReason::Cancelling),
                ..condition("Completed", ConditionState::Pending, "t")
            },
        );
        assert!(cancelling(&execution));
        assert_eq!(execution.conditions.len(), 3);
    }
}

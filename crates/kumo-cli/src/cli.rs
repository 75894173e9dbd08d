//! The command grammar, spelled as gcloud spells it.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "kumo",
    about = "Kumo: Cloud Run and its security model on your machine, driven like gcloud.",
    disable_version_flag = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Top,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// The project ID to use for this invocation (overrides `core/project`).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub project: Option<String>,
    /// Region of the resource (overrides `run/region`).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub region: Option<String>,
    /// Output format: json, yaml, export, none, value(KEYS), table(KEYS), csv(KEYS).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub format: Option<String>,
    /// Disable all interactive prompts and take the defaults.
    #[arg(long, short = 'q', global = true, help_heading = "Global Flags")]
    pub quiet: bool,
    /// Logging verbosity: debug, info, warning, error, critical, none.
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub verbosity: Option<String>,
    /// Make API calls as this service account (through IAM Credentials generateAccessToken).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub impersonate_service_account: Option<String>,
    /// A file holding an access token to use as-is for this invocation (`auth/access_token_file`).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub access_token_file: Option<String>,
    /// The account to use for this invocation (overrides `core/account`).
    #[arg(long, global = true, help_heading = "Global Flags")]
    pub account: Option<String>,
}

/// gcloud's list-command flags (`base.FILTER_FLAG`, `LIMIT_FLAG`, `PAGE_SIZE_FLAG`,
/// `SORT_BY_FLAG`, `URI_FLAG`), applied by the display layer in gcloud's order: filter, sort,
/// limit, page, uri.
#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Apply a Boolean filter EXPRESSION to each resource item to be listed.
    #[arg(long, value_name = "EXPRESSION", help_heading = "List Command Flags")]
    pub filter: Option<String>,
    /// Maximum number of resources to list. The default is unlimited.
    #[arg(long, value_parser = bounded_int, help_heading = "List Command Flags")]
    pub limit: Option<u64>,
    /// The maximum number of resources per page.
    #[arg(long, value_parser = bounded_int, help_heading = "List Command Flags")]
    pub page_size: Option<u64>,
    /// Comma-separated list of resource field key names to sort by; `~` prefix: descending.
    #[arg(
        long,
        value_name = "FIELD",
        value_delimiter = ',',
        action = clap::ArgAction::Append,
        help_heading = "List Command Flags"
    )]
    pub sort_by: Vec<String>,
    /// Print a list of resource URIs instead of the default output.
    #[arg(long, help_heading = "List Command Flags")]
    pub uri: bool,
}

/// `arg_parsers.BoundedInt(1, sys.maxsize, unlimited=True)`: `unlimited` is no bound.
fn bounded_int(text: &str) -> Result<u64, String> {
    if text == "unlimited" {
        return Ok(u64::MAX);
    }
    let n: i64 = text
        .parse()
        .map_err(|_| format!("Value must be an integer; received: {text}"))?;
    if n < 1 {
        return Err(format!(
            "Value must be greater than or equal to 1; received: {n}"
        ));
    }
    u64::try_from(n).map_err(|e| e.to_string())
}

#[derive(Subcommand, Debug)]
pub enum Top {
    /// Manage Cloud Run services, jobs and revisions.
    Run(Run),
    /// Manage IAM service accounts, custom roles, and explain access decisions.
    Iam(Iam),
    /// Manage projects.
    Projects(Projects),
    /// Manage organizations.
    Organizations(Organizations),
    /// Manage folders and (v1) organization policies.
    ResourceManager(ResourceManager),
    /// Manage organization policies (v2).
    OrgPolicies(OrgPolicies),
    /// Manage Identity-Aware Proxy access.
    Iap(Iap),
    /// Manage service identities of Google APIs.
    Services(Services),
    /// Manage Artifact Registry repositories and images.
    Artifacts(Artifacts),
    /// Read log entries.
    Logging(Logging),
    /// Manage credentials: sign in, print tokens, service-account keys.
    Auth(Auth),
    /// View and edit properties (project, account, run/region, api_endpoint).
    Config(Config),
    /// Manage directory users, groups and memberships.
    Identity(Identity),
    /// Explain access decisions (gcloud's spelling of `iam troubleshoot`).
    PolicyIntelligence(PolicyIntelligence),
    /// Print a shell completion script: `source <(kumo completion bash)`.
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
pub struct PolicyIntelligence {
    #[command(subcommand)]
    pub cmd: PolicyIntelligenceCmd,
}

#[derive(Subcommand, Debug)]
pub enum PolicyIntelligenceCmd {
    /// Troubleshoot policies.
    TroubleshootPolicy(TroubleshootPolicy),
}

#[derive(Args, Debug)]
pub struct TroubleshootPolicy {
    #[command(subcommand)]
    pub cmd: TroubleshootPolicyCmd,
}

#[derive(Subcommand, Debug)]
pub enum TroubleshootPolicyCmd {
    /// Explain whether a principal has a permission on a resource, and why.
    Iam(Troubleshoot),
}

#[derive(Args, Debug)]
pub struct Troubleshoot {
    /// Full resource name, e.g. //run.googleapis.com/projects/P/locations/R/services/S
    /// (default: the --service in --region, else the project).
    pub resource: Option<String>,
    /// The principal's email (a `user:`/`serviceAccount:` prefix is accepted).
    #[arg(long, alias = "principal")]
    pub principal_email: String,
    /// The permission, e.g. run.routes.invoke.
    #[arg(long)]
    pub permission: String,
    /// A Cloud Run service of the current project and region, instead of RESOURCE.
    #[arg(long, conflicts_with = "resource")]
    pub service: Option<String>,
}

// ---------------------------------------------------------------------------------------- run

#[derive(Args, Debug)]
pub struct Run {
    /// Target platform; only `managed` (Cloud Run) exists in Kumo (`run/platform`).
    #[arg(long, global = true, value_parser = ["managed"], hide = true)]
    pub platform: Option<String>,
    #[command(subcommand)]
    pub cmd: RunCmd,
}

#[derive(Subcommand, Debug)]
pub enum RunCmd {
    /// Create or update a Cloud Run service from a container image.
    Deploy(Deploy),
    /// Manage services.
    Services(RunServices),
    /// Manage jobs.
    Jobs(RunJobs),
    /// Manage revisions.
    Revisions(RunRevisions),
}

/// The container and template flags `run deploy`, `run services update` and `run jobs
/// create|update|deploy` share (gcloud's `_GetConfigurationChanges`). List and dict values are
/// kept as typed (gcloud's `^DELIM^` prefix picks another delimiter) and parsed in `cmd::run`.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct ContainerFlags {
    /// Replace all environment variables with KEY=VALUE,KEY2=VALUE2.
    #[arg(long, value_name = "KEY=VALUE", conflicts_with_all = ["update_env_vars", "remove_env_vars", "clear_env_vars", "env_vars_file"])]
    pub set_env_vars: Vec<String>,
    /// Add or change environment variables, KEY=VALUE,KEY2=VALUE2.
    #[arg(long, value_name = "KEY=VALUE", conflicts_with_all = ["clear_env_vars", "env_vars_file"])]
    pub update_env_vars: Vec<String>,
    /// Remove environment variables (comma-separated keys); applied before --update-env-vars.
    #[arg(long, value_name = "KEY", conflicts_with_all = ["clear_env_vars", "env_vars_file"])]
    pub remove_env_vars: Vec<String>,
    /// Remove all environment variables.
    #[arg(long, conflicts_with = "env_vars_file")]
    pub clear_env_vars: bool,
    /// A YAML (KEY: value) or .env (KEY=value) file that replaces all environment variables.
    #[arg(long, value_name = "FILE_PATH")]
    pub env_vars_file: Option<String>,
    /// Entrypoint of the container (comma-separated); an empty string resets it.
    #[arg(long, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Arguments of the container's command (comma-separated); an empty string resets them.
    #[arg(long, value_name = "ARG")]
    pub args: Vec<String>,
    /// Memory limit, e.g. 512Mi, 1Gi.
    #[arg(long)]
    pub memory: Option<String>,
    /// CPU limit in Kubernetes cpu units, e.g. 1, 2, 1000m.
    #[arg(long)]
    pub cpu: Option<String>,
    /// Labels to add or change, KEY=VALUE,... (an alias of --update-labels).
    #[arg(long, value_name = "KEY=VALUE", conflicts_with = "update_labels")]
    pub labels: Vec<String>,
    /// Labels to add or change, KEY=VALUE,...
    #[arg(long, value_name = "KEY=VALUE")]
    pub update_labels: Vec<String>,
    /// Labels to remove (comma-separated keys).
    #[arg(long, value_name = "KEY", conflicts_with = "clear_labels")]
    pub remove_labels: Vec<String>,
    /// Remove all labels.
    #[arg(long)]
    pub clear_labels: bool,
    /// Execution environment: gen1 or gen2.
    #[arg(long, value_parser = ["gen1", "gen2"])]
    pub execution_environment: Option<String>,
}

/// A `--flag` / `--no-flag` pair; the last one given wins.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct ServiceFlags {
    /// Container image to deploy.
    #[arg(long)]
    pub image: Option<String>,
    /// Service account email the revision runs as.
    #[arg(long)]
    pub service_account: Option<String>,
    /// Check IAM permission run.routes.invoke on callers (default).
    #[arg(long, overrides_with = "no_invoker_iam_check")]
    pub invoker_iam_check: bool,
    /// Disable the invoker IAM check: anyone who can reach the URL may call it.
    #[arg(long, overrides_with = "invoker_iam_check")]
    pub no_invoker_iam_check: bool,
    /// Put Identity-Aware Proxy in front of the service.
    #[arg(long, overrides_with = "no_iap")]
    pub iap: bool,
    /// Turn Identity-Aware Proxy off.
    #[arg(long, overrides_with = "iap")]
    pub no_iap: bool,
    /// Ingress: all, internal, internal-and-cloud-load-balancing.
    #[arg(long)]
    pub ingress: Option<String>,
    /// Extra accepted ID-token audiences to add (comma-separated).
    #[arg(long, value_name = "CUSTOM_AUDIENCES", conflicts_with_all = ["remove_custom_audiences", "clear_custom_audiences", "set_custom_audiences"])]
    pub add_custom_audiences: Vec<String>,
    /// Custom audiences to remove (comma-separated).
    #[arg(long, value_name = "CUSTOM_AUDIENCES", conflicts_with_all = ["clear_custom_audiences", "set_custom_audiences"])]
    pub remove_custom_audiences: Vec<String>,
    /// Remove every custom audience.
    #[arg(long, conflicts_with = "set_custom_audiences")]
    pub clear_custom_audiences: bool,
    /// Replace the custom audiences (comma-separated).
    #[arg(long, value_name = "CUSTOM_AUDIENCES")]
    pub set_custom_audiences: Vec<String>,
    #[command(flatten)]
    pub container: ContainerFlags,
    /// Container port (1-65535), or `default` to unset it.
    #[arg(long)]
    pub port: Option<String>,
    /// Minimum number of instances, or `default`.
    #[arg(long)]
    pub min_instances: Option<String>,
    /// Maximum number of instances, or `default`.
    #[arg(long)]
    pub max_instances: Option<String>,
    /// Maximum concurrent requests per instance, or `default`.
    #[arg(long)]
    pub concurrency: Option<String>,
    /// Request timeout as a duration: 300, 300s, 5m, 1h.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Throttle the CPU outside requests (`--no-cpu-throttling`: CPU always allocated).
    #[arg(long, overrides_with = "no_cpu_throttling")]
    pub cpu_throttling: bool,
    #[arg(long, overrides_with = "cpu_throttling", hide = true)]
    pub no_cpu_throttling: bool,
    /// Extra CPU at startup (`--no-cpu-boost` to turn it off).
    #[arg(long, overrides_with = "no_cpu_boost")]
    pub cpu_boost: bool,
    #[arg(long, overrides_with = "cpu_boost", hide = true)]
    pub no_cpu_boost: bool,
    /// Description of the service.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Args, Debug)]
pub struct Deploy {
    /// Service name.
    pub service: String,
    #[command(flatten)]
    pub flags: Box<ServiceFlags>,
    /// Grant allUsers roles/run.invoker.
    #[arg(long, overrides_with = "no_allow_unauthenticated")]
    pub allow_unauthenticated: bool,
    /// Do not grant allUsers; keep the service private.
    #[arg(long, overrides_with = "allow_unauthenticated")]
    pub no_allow_unauthenticated: bool,
    #[command(flatten)]
    pub traffic: TrafficFlags,
}

/// Traffic flags of `run deploy` and `run services update`.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct TrafficFlags {
    /// Traffic tag to assign to the newly created revision.
    #[arg(long)]
    pub tag: Option<String>,
    /// Send no traffic to the new revision: what LATEST served stays with the revision serving now.
    #[arg(long)]
    pub no_traffic: bool,
    /// Name the new revision SERVICE-SUFFIX.
    #[arg(long, value_name = "SUFFIX")]
    pub revision_suffix: Option<String>,
    /// Return once the change is accepted, without waiting for the service to become ready.
    #[arg(long = "async")]
    pub async_: bool,
}

/// `run services update-traffic`.
#[derive(Args, Debug, Clone)]
pub struct UpdateTraffic {
    /// Service name.
    pub service: String,
    /// Send all traffic to the latest ready revision.
    #[arg(long, conflicts_with_all = ["to_revisions", "to_tags"])]
    pub to_latest: bool,
    /// Shares by revision: REVISION=PERCENT,... (LATEST names the latest ready revision).
    #[arg(long, value_name = "REVISION=PERCENT")]
    pub to_revisions: Vec<String>,
    /// Shares by tag: TAG=PERCENT,...
    #[arg(long, value_name = "TAG=PERCENT")]
    pub to_tags: Vec<String>,
    #[command(flatten)]
    pub tags: TagFlags,
    /// Return once the change is accepted, without waiting for it to take effect.
    #[arg(long = "async")]
    pub async_: bool,
}

/// Tag changes of `run services update-traffic`.
#[derive(Args, Debug, Clone, Default)]
pub struct TagFlags {
    /// Tags to add or move: TAG=REVISION,...
    #[arg(long, value_name = "TAG=REVISION", conflicts_with_all = ["set_tags", "clear_tags"])]
    pub update_tags: Vec<String>,
    /// Replace every tag: TAG=REVISION,...
    #[arg(long, value_name = "TAG=REVISION", conflicts_with_all = ["clear_tags", "remove_tags"])]
    pub set_tags: Vec<String>,
    /// Tags to remove (comma-separated).
    #[arg(long, value_name = "TAG", conflicts_with = "clear_tags")]
    pub remove_tags: Vec<String>,
    /// Remove every tag.
    #[arg(long)]
    pub clear_tags: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Binding {
    /// Principal, e.g. user:alice@example.com, serviceAccount:sa@p.iam.gserviceaccount.com, allUsers.
    #[arg(long)]
    pub member: String,
    /// Role, e.g. roles/run.invoker.
    #[arg(long)]
    pub role: String,
    /// Condition: None, or expression=EXPR,title=TITLE[,description=DESC].
    #[arg(long)]
    pub condition: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunServices {
    #[command(subcommand)]
    pub cmd: RunServicesCmd,
}

#[derive(Subcommand, Debug)]
pub enum RunServicesCmd {
    /// List services.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a service.
    Describe { service: String },
    /// Update a service's settings.
    Update {
        service: String,
        #[command(flatten)]
        flags: Box<ServiceFlags>,
        #[command(flatten)]
        traffic: TrafficFlags,
    },
    /// Adjust the traffic assignments and tags of a service.
    UpdateTraffic(UpdateTraffic),
    /// Delete a service.
    Delete { service: String },
    /// Create or replace a service from a YAML (Knative) file.
    Replace { file: String },
    /// Show a service's IAM policy.
    GetIamPolicy { service: String },
    /// Replace a service's IAM policy with the one in a JSON or YAML file.
    SetIamPolicy {
        service: String,
        policy_file: String,
    },
    /// Add an IAM binding to a service.
    AddIamPolicyBinding {
        service: String,
        #[command(flatten)]
        binding: Binding,
    },
    /// Remove an IAM binding from a service.
    RemoveIamPolicyBinding {
        service: String,
        #[command(flatten)]
        binding: Binding,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct JobFlags {
    /// Container image.
    #[arg(long)]
    pub image: Option<String>,
    /// Service account email the tasks run as.
    #[arg(long)]
    pub service_account: Option<String>,
    #[command(flatten)]
    pub container: ContainerFlags,
    /// Number of tasks (at least 1; a new job gets 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub tasks: Option<u32>,
    /// Number of tasks that may run at once; 0 unsets it.
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// Retries per failed task.
    #[arg(long)]
    pub max_retries: Option<u32>,
    /// Task timeout as a duration: 600, 600s, 10m, 1h.
    #[arg(long)]
    pub task_timeout: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunJobs {
    #[command(subcommand)]
    pub cmd: RunJobsCmd,
}

/// What `run jobs create|update|deploy` take.
#[derive(Args, Debug)]
pub struct JobWriteArgs {
    pub job: String,
    #[command(flatten)]
    pub flags: Box<JobFlags>,
    /// Run the job right after writing it.
    #[arg(long)]
    pub execute_now: bool,
    /// Run the job and wait for the execution to finish (implies --execute-now).
    #[arg(long)]
    pub wait: bool,
}

#[derive(Subcommand, Debug)]
pub enum RunJobsCmd {
    /// Create a job.
    Create(JobWriteArgs),
    /// Update a job.
    Update(JobWriteArgs),
    /// Create a job, or update it when it exists.
    Deploy(JobWriteArgs),
    /// Show a job (use --format export for a replaceable YAML).
    Describe { job: String },
    /// List jobs.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Delete a job.
    Delete { job: String },
    /// Run a job.
    Execute {
        job: String,
        /// Wait until the execution completes.
        #[arg(long)]
        wait: bool,
        /// Override the container arguments (comma-separated).
        #[arg(long, value_name = "ARG")]
        args: Vec<String>,
        /// Override environment variables, KEY=VALUE,...
        #[arg(long, value_name = "KEY=VALUE")]
        update_env_vars: Vec<String>,
        /// Override the number of tasks.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        tasks: Option<u32>,
        /// Override the task timeout for this execution: 600, 10m, 1h.
        #[arg(long)]
        task_timeout: Option<String>,
    },
    /// Create or replace a job from a YAML file.
    Replace { file: String },
    /// Manage executions.
    Executions(RunExecutions),
}

#[derive(Args, Debug)]
pub struct RunExecutions {
    #[command(subcommand)]
    pub cmd: RunExecutionsCmd,
}

#[derive(Subcommand, Debug)]
pub enum RunExecutionsCmd {
    /// List executions (of one job with --job).
    List {
        #[arg(long)]
        job: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show an execution.
    Describe { execution: String },
    /// Cancel an execution.
    Cancel { execution: String },
}

#[derive(Args, Debug)]
pub struct RunRevisions {
    #[command(subcommand)]
    pub cmd: RunRevisionsCmd,
}

#[derive(Subcommand, Debug)]
pub enum RunRevisionsCmd {
    /// List revisions (of one service with --service).
    List {
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a revision.
    Describe { revision: String },
}

// ---------------------------------------------------------------------------------------- iam

#[derive(Args, Debug)]
pub struct Iam {
    #[command(subcommand)]
    pub cmd: IamCmd,
}

#[derive(Subcommand, Debug)]
pub enum IamCmd {
    /// Manage service accounts.
    ServiceAccounts(ServiceAccounts),
    /// Manage custom roles and read predefined ones.
    Roles(Roles),
    /// Explain whether a principal has a permission on a resource, and why.
    Troubleshoot(Troubleshoot),
}

#[derive(Args, Debug)]
pub struct ServiceAccounts {
    #[command(subcommand)]
    pub cmd: ServiceAccountsCmd,
}

#[derive(Subcommand, Debug)]
pub enum ServiceAccountsCmd {
    /// Create a service account.
    Create {
        /// Account id (the part before @).
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List service accounts.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a service account.
    Describe { email: String },
    /// Delete a service account.
    Delete { email: String },
    /// Disable a service account.
    Disable { email: String },
    /// Enable a service account.
    Enable { email: String },
    /// Show a service account's IAM policy.
    GetIamPolicy { email: String },
    /// Add an IAM binding to a service account.
    AddIamPolicyBinding {
        email: String,
        #[command(flatten)]
        binding: Binding,
    },
    /// Remove an IAM binding from a service account.
    RemoveIamPolicyBinding {
        email: String,
        #[command(flatten)]
        binding: Binding,
    },
    /// Manage keys.
    Keys(Keys),
}

#[derive(Args, Debug)]
pub struct Keys {
    #[command(subcommand)]
    pub cmd: KeysCmd,
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create a key and write its key file.
    Create {
        output_file: String,
        #[arg(long)]
        iam_account: String,
    },
    /// List keys.
    List {
        #[arg(long)]
        iam_account: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Delete a key.
    Delete {
        key_id: String,
        #[arg(long)]
        iam_account: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RoleParent {
    /// Organization id of a custom role.
    #[arg(long)]
    pub organization: Option<String>,
}

#[derive(Args, Debug)]
pub struct Roles {
    #[command(subcommand)]
    pub cmd: RolesCmd,
}

#[derive(Subcommand, Debug)]
pub enum RolesCmd {
    /// Show a role (roles/X, or a custom role id with --project/--organization).
    Describe {
        role: String,
        #[command(flatten)]
        parent: RoleParent,
    },
    /// List predefined roles, or custom roles with --project/--organization.
    List {
        #[command(flatten)]
        parent: RoleParent,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Create a custom role.
    Create {
        role_id: String,
        #[command(flatten)]
        parent: RoleParent,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// Update a custom role.
    Update {
        role_id: String,
        #[command(flatten)]
        parent: RoleParent,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_delimiter = ',')]
        add_permissions: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove_permissions: Vec<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// Delete a custom role.
    Delete {
        role_id: String,
        #[command(flatten)]
        parent: RoleParent,
    },
}

// ------------------------------------------------------------------------- resource manager

#[derive(Args, Debug)]
pub struct Projects {
    #[command(subcommand)]
    pub cmd: ProjectsCmd,
}

#[derive(Subcommand, Debug)]
pub enum ProjectsCmd {
    /// Create a project.
    Create {
        project_id: String,
        #[arg(long)]
        organization: Option<String>,
        #[arg(long)]
        folder: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List projects.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show a project.
    Describe { project_id: String },
    /// Show a project's IAM policy.
    GetIamPolicy { project_id: String },
    /// Add an IAM binding to a project.
    AddIamPolicyBinding {
        project_id: String,
        #[command(flatten)]
        binding: Binding,
    },
    /// Remove an IAM binding from a project.
    RemoveIamPolicyBinding {
        project_id: String,
        #[command(flatten)]
        binding: Binding,
    },
}

#[derive(Args, Debug)]
pub struct Organizations {
    #[command(subcommand)]
    pub cmd: OrganizationsCmd,
}

#[derive(Subcommand, Debug)]
pub enum OrganizationsCmd {
    /// List organizations.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show an organization.
    Describe { organization: String },
    /// Create an organization and its Workspace customer (Kumo extension).
    Create {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show an organization's IAM policy.
    GetIamPolicy { organization: String },
    /// Add an IAM binding to an organization.
    AddIamPolicyBinding {
        organization: String,
        #[command(flatten)]
        binding: Binding,
    },
    /// Remove an IAM binding from an organization.
    RemoveIamPolicyBinding {
        organization: String,
        #[command(flatten)]
        binding: Binding,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct PolicyTarget {
    #[arg(long)]
    pub organization: Option<String>,
    #[arg(long)]
    pub folder: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResourceManager {
    #[command(subcommand)]
    pub cmd: ResourceManagerCmd,
}

#[derive(Subcommand, Debug)]
pub enum ResourceManagerCmd {
    /// Manage folders.
    Folders(Folders),
    /// Manage organization policies (v1 API).
    OrgPolicies(OrgPoliciesV1),
}

#[derive(Args, Debug)]
pub struct Folders {
    #[command(subcommand)]
    pub cmd: FoldersCmd,
}

#[derive(Subcommand, Debug)]
pub enum FoldersCmd {
    /// Create a folder under an organization or folder.
    Create {
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        parent: PolicyTarget,
    },
}

#[derive(Args, Debug)]
pub struct OrgPoliciesV1 {
    #[command(subcommand)]
    pub cmd: OrgPoliciesV1Cmd,
}

#[derive(Subcommand, Debug)]
pub enum OrgPoliciesV1Cmd {
    /// Enforce a boolean constraint.
    EnableEnforce {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Stop enforcing a boolean constraint.
    DisableEnforce {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Show the policy set on a resource (or the effective one with --effective).
    Describe {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
        #[arg(long)]
        effective: bool,
    },
    /// List the policies set on a resource.
    List {
        #[command(flatten)]
        target: PolicyTarget,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Add values to a policy's allowed_values list.
    Allow {
        constraint: String,
        #[arg(required = true, value_name = "ALLOWED_VALUE")]
        allowed_value: Vec<String>,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Add values to a policy's denied_values list.
    Deny {
        constraint: String,
        #[arg(required = true, value_name = "DENIED_VALUE")]
        denied_value: Vec<String>,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Delete (clear) the policy set on a resource.
    Delete {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Set a policy from a JSON or YAML file (v1 Policy).
    SetPolicy {
        policy_file: String,
        #[command(flatten)]
        target: PolicyTarget,
    },
}

#[derive(Args, Debug)]
pub struct OrgPolicies {
    #[command(subcommand)]
    pub cmd: OrgPoliciesCmd,
}

#[derive(Subcommand, Debug)]
pub enum OrgPoliciesCmd {
    /// Set a policy from a JSON or YAML file (v2 Policy).
    SetPolicy { policy_file: String },
    /// Show a policy (or the effective one with --effective).
    Describe {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
        #[arg(long)]
        effective: bool,
    },
    /// Reset a policy to the constraint's default.
    Reset {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Delete a policy.
    Delete {
        constraint: String,
        #[command(flatten)]
        target: PolicyTarget,
        /// The policy's current etag; deletion fails if it does not match.
        #[arg(long)]
        etag: Option<String>,
    },
    /// List policies set on a resource.
    List {
        #[command(flatten)]
        target: PolicyTarget,
        #[command(flatten)]
        list: ListArgs,
    },
}

// --------------------------------------------------------------------------- iap & services

#[derive(Args, Debug)]
pub struct Iap {
    #[command(subcommand)]
    pub cmd: IapCmd,
}

#[derive(Subcommand, Debug)]
pub enum IapCmd {
    /// IAP-protected web resources.
    Web(IapWeb),
}

#[derive(Args, Debug)]
pub struct IapWeb {
    #[command(subcommand)]
    pub cmd: IapWebCmd,
}

#[derive(Args, Debug, Clone)]
pub struct IapResource {
    /// Resource type; `cloud-run` for a Cloud Run service.
    #[arg(long)]
    pub resource_type: Option<String>,
    /// The Cloud Run service.
    #[arg(long)]
    pub service: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum IapWebCmd {
    /// Show the IAP policy.
    GetIamPolicy {
        #[command(flatten)]
        resource: IapResource,
    },
    /// Add an IAP binding.
    AddIamPolicyBinding {
        #[command(flatten)]
        resource: IapResource,
        #[command(flatten)]
        binding: Binding,
    },
    /// Remove an IAP binding.
    RemoveIamPolicyBinding {
        #[command(flatten)]
        resource: IapResource,
        #[command(flatten)]
        binding: Binding,
    },
}

#[derive(Args, Debug)]
pub struct Services {
    #[command(subcommand)]
    pub cmd: ServicesCmd,
}

#[derive(Subcommand, Debug)]
pub enum ServicesCmd {
    /// Service identities (service agents).
    Identity(ServicesIdentity),
}

#[derive(Args, Debug)]
pub struct ServicesIdentity {
    #[command(subcommand)]
    pub cmd: ServicesIdentityCmd,
}

#[derive(Subcommand, Debug)]
pub enum ServicesIdentityCmd {
    /// Create (or get) the service agent of an API in a project.
    Create {
        #[arg(long)]
        service: String,
    },
}

// ------------------------------------------------------------------------ artifacts, logging

#[derive(Args, Debug)]
pub struct Artifacts {
    #[command(subcommand)]
    pub cmd: ArtifactsCmd,
}

#[derive(Subcommand, Debug)]
pub enum ArtifactsCmd {
    /// Manage repositories.
    Repositories(Repositories),
    /// Docker images.
    Docker(Docker),
}

#[derive(Args, Debug)]
pub struct Repositories {
    #[command(subcommand)]
    pub cmd: RepositoriesCmd,
}

#[derive(Subcommand, Debug)]
pub enum RepositoriesCmd {
    /// Create a repository.
    Create {
        repository: String,
        #[arg(long)]
        repository_format: String,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List repositories.
    List {
        #[arg(long)]
        location: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Add an IAM binding to a repository.
    AddIamPolicyBinding {
        repository: String,
        #[arg(long)]
        location: Option<String>,
        #[command(flatten)]
        binding: Binding,
    },
}

#[derive(Args, Debug)]
pub struct Docker {
    #[command(subcommand)]
    pub cmd: DockerCmd,
}

#[derive(Subcommand, Debug)]
pub enum DockerCmd {
    /// Images.
    Images(DockerImages),
}

#[derive(Args, Debug)]
pub struct DockerImages {
    #[command(subcommand)]
    pub cmd: DockerImagesCmd,
}

#[derive(Subcommand, Debug)]
pub enum DockerImagesCmd {
    /// List images in LOCATION-docker.pkg.dev/PROJECT/REPOSITORY.
    List {
        image_path: String,
        /// Also show each image's tags.
        #[arg(long)]
        include_tags: bool,
        #[command(flatten)]
        list: ListArgs,
    },
}

#[derive(Args, Debug)]
pub struct Logging {
    #[command(subcommand)]
    pub cmd: LoggingCmd,
}

#[derive(Subcommand, Debug)]
pub enum LoggingCmd {
    /// Read log entries matching a filter.
    Read {
        filter: Option<String>,
        /// Maximum number of entries.
        #[arg(long)]
        limit: Option<u32>,
        /// Only entries newer than this, e.g. 1d, 2h, 30m (default 1d).
        #[arg(long)]
        freshness: Option<String>,
        /// asc or desc (default desc).
        #[arg(long)]
        order: Option<String>,
    },
    /// Follow new log entries matching a filter until interrupted.
    Tail { filter: Option<String> },
}

// ------------------------------------------------------------------------------- auth, config

#[derive(Args, Debug)]
pub struct Auth {
    #[command(subcommand)]
    pub cmd: AuthCmd,
}

#[derive(Subcommand, Debug)]
pub enum AuthCmd {
    /// Sign in (with `--account EMAIL` no browser is needed on a dev-mode server).
    Login {
        /// Account to sign in as (positional, as gcloud accepts it).
        account_arg: Option<String>,
        /// Do not open a browser; print the sign-in URL instead.
        #[arg(long, conflicts_with_all = ["no_browser", "remote_bootstrap"])]
        no_launch_browser: bool,
        /// Sign in on a machine without a browser, with the help of one that has a browser.
        #[arg(long, conflicts_with = "remote_bootstrap")]
        no_browser: bool,
        /// On a machine with a browser: finish the sign-in `auth login --no-browser` started.
        #[arg(long, value_name = "URL")]
        remote_bootstrap: Option<String>,
        /// Also write Application Default Credentials.
        #[arg(long)]
        update_adc: bool,
        /// Sign in with a service account key file (JSON) instead of a browser.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["no_launch_browser", "no_browser", "remote_bootstrap"])]
        cred_file: Option<String>,
    },
    /// Use a service-account key file as credentials.
    ActivateServiceAccount {
        account_arg: Option<String>,
        #[arg(long)]
        key_file: String,
    },
    /// List credentialed accounts.
    List,
    /// Revoke credentials and forget them.
    Revoke {
        accounts: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Print an access token for the active account.
    PrintAccessToken { account_arg: Option<String> },
    /// Print an ID token for the active account (or an impersonated service account).
    PrintIdentityToken {
        account_arg: Option<String>,
        /// Audience of the token (service accounts only).
        #[arg(long)]
        audiences: Option<String>,
        /// Include the email claim (impersonation).
        #[arg(long)]
        include_email: bool,
    },
    /// Application Default Credentials.
    ApplicationDefault(ApplicationDefault),
}

#[derive(Args, Debug)]
pub struct ApplicationDefault {
    #[command(subcommand)]
    pub cmd: ApplicationDefaultCmd,
}

#[derive(Subcommand, Debug)]
pub enum ApplicationDefaultCmd {
    /// Sign in and write an authorized_user ADC file with Kumo's token URI.
    Login {
        /// Do not open a browser; print the sign-in URL instead.
        #[arg(long, conflicts_with_all = ["no_browser", "remote_bootstrap"])]
        no_launch_browser: bool,
        /// Sign in on a machine without a browser, with the help of one that has a browser.
        #[arg(long, conflicts_with = "remote_bootstrap")]
        no_browser: bool,
        /// On a machine with a browser: finish the sign-in `--no-browser` started.
        #[arg(long, value_name = "URL")]
        remote_bootstrap: Option<String>,
    },
    /// Print an access token from the ADC file.
    PrintAccessToken,
    /// Revoke and delete the ADC file.
    Revoke,
}

#[derive(Args, Debug)]
pub struct Config {
    #[command(subcommand)]
    pub cmd: ConfigCmd,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Set a property, e.g. `project demo-project` or `run/region asia-northeast1`.
    Set { property: String, value: String },
    /// Print a property's value.
    Get { property: String },
    /// Print a property's value (same as get).
    GetValue { property: String },
    /// Unset a property.
    Unset { property: String },
    /// List set properties.
    List,
}

#[derive(Args, Debug)]
pub struct Identity {
    #[command(subcommand)]
    pub cmd: IdentityCmd,
}

#[derive(Subcommand, Debug)]
pub enum IdentityCmd {
    /// Directory users.
    Users(Users),
    /// Directory groups.
    Groups(Groups),
}

#[derive(Args, Debug)]
pub struct Users {
    #[command(subcommand)]
    pub cmd: UsersCmd,
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Create a user.
    Create {
        email: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Password (needed for sign-in on a strict-mode server).
        #[arg(long)]
        password: Option<String>,
    },
    /// List users of a domain (default: the customer's).
    List {
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Delete a user.
    Delete { email: String },
}

#[derive(Args, Debug)]
pub struct Groups {
    #[command(subcommand)]
    pub cmd: GroupsCmd,
}

#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// Create a group.
    Create {
        email: String,
        /// Organization id whose customer owns the group (default: the only organization).
        #[arg(long)]
        organization: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Group memberships.
    Memberships(Memberships),
}

#[derive(Args, Debug)]
pub struct Memberships {
    #[command(subcommand)]
    pub cmd: MembershipsCmd,
}

#[derive(Subcommand, Debug)]
pub enum MembershipsCmd {
    /// Add a member to a group.
    Add {
        #[arg(long)]
        group_email: String,
        #[arg(long)]
        member_email: String,
    },
    /// List a group's members.
    List {
        #[arg(long)]
        group_email: String,
        #[command(flatten)]
        list: ListArgs,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command, at every depth, has help text.
    #[test]
    fn every_command_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "kumo", &mut missing);
        assert!(missing.is_empty(), "commands without help: {missing:?}");
    }
}

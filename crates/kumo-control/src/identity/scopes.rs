//! Which OAuth scopes open which API method, as each API's discovery document lists them
//! (`auth.oauth2.scopes` and every method's `scopes`): `cloud-platform` opens every Cloud API;
//! `cloud-platform.read-only` only the read methods of the APIs that accept it; an API's own scopes
//! (`iam`, `logging.*`, `cloud-identity.groups*`, `service.management`) only that API. A token whose
//! scopes open nothing here gets Google's 403 "Request had insufficient authentication scopes."

const AUTH: &str = "https://www.googleapis.com/auth/";

/// The scopes of one API package (the `rpc` prefix of Kumo's route table).
struct ApiScopes {
    /// `google.cloud.run.`, `google.logging.v2.`, …
    package: &'static str,
    /// Scope names (after `…/auth/`) that open every method of the API.
    all: &'static [&'static str],
    /// Extra scope names that open its read methods.
    read: &'static [&'static str],
}

/// UNCONFIRMED per API: the lists follow the discovery documents as recalled; the Admin SDK
/// directory also accepts `cloud-platform` here because Kumo's CLI manages its directory with
/// its one token (Google's Directory API wants `admin.directory.*` scopes).
const TABLE: &[ApiScopes] = &[
    ApiScopes {
        package: "google.cloud.run.",
        all: &["cloud-platform"],
        read: &[],
    },
    ApiScopes {
        package: "google.cloud.resourcemanager.",
        all: &["cloud-platform"],
        read: &["cloud-platform.read-only"],
    },
    ApiScopes {
        package: "google.cloudresourcemanager.",
        all: &["cloud-platform"],
        read: &["cloud-platform.read-only"],
    },
    ApiScopes {
        package: "google.iam.admin.",
        all: &["cloud-platform", "iam"],
        read: &[],
    },
    ApiScopes {
        package: "google.iam.credentials.",
        all: &["cloud-platform", "iam"],
        read: &[],
    },
    ApiScopes {
        package: "google.logging.",
        all: &["cloud-platform", "logging.admin"],
        read: &["cloud-platform.read-only", "logging.read"],
    },
    ApiScopes {
        package: "google.devtools.artifactregistry.",
        all: &["cloud-platform"],
        read: &["cloud-platform.read-only"],
    },
    ApiScopes {
        package: "google.api.serviceusage.",
        all: &["cloud-platform", "service.management"],
        read: &["cloud-platform.read-only"],
    },
    ApiScopes {
        package: "google.apps.cloudidentity.groups.",
        all: &["cloud-platform", "cloud-identity.groups"],
        read: &["cloud-identity.groups.readonly"],
    },
    ApiScopes {
        package: "google.admin.directory.",
        all: &["cloud-platform", "admin.directory.user"],
        read: &["admin.directory.user.readonly"],
    },
];

/// Logging's write method also opens with `logging.write`.
const LOGGING_WRITE: &str = "google.logging.v2.LoggingServiceV2.WriteLogEntries";

/// Whether a method only reads, by its name (`Get…`, `List…`, `Search…`, `TestIamPermissions`…).
fn is_read_method(rpc: &str) -> bool {
    let method = rpc.rsplit('.').next().unwrap_or_default();
    [
        "Get",
        "List",
        "Search",
        "Query",
        "BatchGet",
        "TestIamPermissions",
        "Troubleshoot",
    ]
    .iter()
    .any(|prefix| method.starts_with(prefix))
}

/// Whether `granted` (full scope URLs) opens the method `rpc` (its full name in the route table).
/// APIs not in the table open with `cloud-platform` (and its read-only form for reads).
pub(crate) fn scopes_cover(granted: &[String], rpc: &str) -> bool {
    let (all, read): (&[&str], &[&str]) =
        match TABLE.iter().find(|api| rpc.starts_with(api.package)) {
            Some(api) => (api.all, api.read),
            None => (&["cloud-platform"], &["cloud-platform.read-only"]),
        };
    let read_method = is_read_method(rpc);
    granted.iter().any(|scope| {
        let Some(name) = scope.strip_prefix(AUTH) else {
            return false;
        };
        all.contains(&name)
            || (read_method && read.contains(&name))
            || (rpc == LOGGING_WRITE && name == "logging.write")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| format!("{AUTH}{name}")).collect()
    }

    #[test]
    fn scope_matrix() {
        let cases: &[(&[&str], &str, bool)] = &[
            (
                &["cloud-platform"],
                "google.cloud.run.v2.Services.CreateService",
                true,
            ),
            (
                &["cloud-platform"],
                "google.iam.admin.v1.IAM.CreateServiceAccount",
                true,
            ),
            (
                &["cloud-platform.read-only"],
                "google.cloud.resourcemanager.v3.Projects.GetProject",
                true,
            ),
            (
                &["cloud-platform.read-only"],
                "google.cloud.resourcemanager.v3.Projects.GetIamPolicy",
                true,
            ),
            (
                &["cloud-platform.read-only"],
                "google.cloud.resourcemanager.v3.Projects.SetIamPolicy",
                false,
            ),
            (
                &["cloud-platform.read-only"],
                "google.cloud.run.v2.Services.GetService",
                false,
            ),
            (
                &["iam"],
                "google.iam.credentials.v1.IAMCredentials.GenerateAccessToken",
                true,
            ),
            (&["iam"], "google.cloud.run.v2.Services.ListServices", false),
            (
                &["logging.read"],
                "google.logging.v2.LoggingServiceV2.ListLogEntries",
                true,
            ),
            (&["logging.read"], LOGGING_WRITE, false),
            (&["logging.write"], LOGGING_WRITE, true),
            (
                &["logging.write"],
                "google.logging.v2.LoggingServiceV2.ListLogEntries",
                false,
            ),
            (
                &["userinfo.email"],
                "google.cloud.run.v2.Services.GetService",
                false,
            ),
            (
                &["cloud-identity.groups.readonly"],
                "google.apps.cloudidentity.groups.v1.GroupsService.ListGroups",
                true,
            ),
            (
                &["cloud-identity.groups.readonly"],
                "google.apps.cloudidentity.groups.v1.GroupsService.CreateGroup",
                false,
            ),
            (&["cloud-platform"], "kumo.keys.rotate", true),
            (&["devstorage.read_only"], "kumo.keys.rotate", false),
        ];
        for (granted, rpc, expected) in cases {
            assert_eq!(
                scopes_cover(&scopes(granted), rpc),
                *expected,
                "{granted:?} on {rpc}"
            );
        }
        // Bare scope names are not Google's scopes.
        assert!(!scopes_cover(
            &["cloud-platform".to_owned()],
            "google.cloud.run.v2.Services.GetService"
        ));
    }
}

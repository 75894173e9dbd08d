//! The route table: every Google API method Kumo serves, with the permission Google documents for
//! it. One place, so that a test can walk it (every route names a permission that the catalog
//! knows, or says why it needs none).

use axum::http::Method;

use crate::dispatch::HandlerFuture;
use crate::{Api, Request};

/// One API method.
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template, `{param}` per segment, optional `:verb` suffix.
    pub template: &'static str,
    /// The permission Google checks for this method, or `None` with the reason in `note`.
    pub permission: Option<&'static str>,
    /// Google's RPC name, for audit logs (`google.cloud.run.v2.Services.GetService`).
    pub rpc: &'static str,
    /// The handler.
    pub handler: fn(Api, Request) -> HandlerFuture,
}

/// Every routed method. Sections are grouped by API; within a section, by resource.
pub static ROUTES: &[Route] = &[
    // == resource manager / iam admin / org policy / service usage ==
    // == run services / revisions / operations ==
    // == run jobs / artifact registry / logging ==
    // == identity / iam credentials / directory ==
    // == iap ==
];

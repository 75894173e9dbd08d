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
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:getIamPolicy",
        permission: Some("iap.webServiceVersions.getIamPolicy"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIamPolicy",
        handler: |api, req| Box::pin(crate::iap::get_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:setIamPolicy",
        permission: Some("iap.webServiceVersions.setIamPolicy"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
        handler: |api, req| Box::pin(crate::iap::set_iam_policy(api, req)),
    },
    Route {
        method: Method::POST,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:testIamPermissions",
        permission: None,
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.TestIamPermissions",
        handler: |api, req| Box::pin(crate::iap::test_iam_permissions(api, req)),
    },
    Route {
        method: Method::GET,
        template: "/v1/projects/{project}/iap_web/{web}/services/{service}:iapSettings",
        permission: Some("iap.webServiceVersions.getSettings"),
        rpc: "google.cloud.iap.v1.IdentityAwareProxyAdminService.GetIapSettings",
        handler: |api, req| Box::pin(crate::iap::get_iap_settings(api, req)),
    },
];

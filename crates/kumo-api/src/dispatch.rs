//! The fallback handler that serves the Google API table: authenticate the caller, find the route,
//! read the body within limits, run the handler, and map its error in one place.

use std::future::Future;
use std::pin::Pin;

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kumo_control::{Caller, Error};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Api;
use crate::extract::{MAX_BODY_BYTES, Query, json_body};
use crate::path::Params;
use crate::routes::ROUTES;
use crate::status::error_response;

/// What a handler returns.
pub type Reply = Result<Response, Error>;

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// One API call, after authentication and routing.
pub struct Request {
    /// The authenticated caller.
    pub caller: Caller,
    /// Path parameters of the matched template.
    pub params: Params,
    /// Decoded query parameters.
    pub query: Query,
    /// Request headers.
    pub headers: HeaderMap,
    /// The raw body (at most [`MAX_BODY_BYTES`]).
    pub body: Bytes,
    /// The TCP peer, when the server recorded it (`callerIp` of audit entries).
    pub peer: Option<std::net::IpAddr>,
}

impl Request {
    /// A path parameter.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name)
    }

    /// The body as a wire type; `root` names the body field for error paths.
    pub fn json<T: DeserializeOwned>(&self, root: &str) -> Result<T, Error> {
        json_body(&self.body, root)
    }
}

/// A 200 response with a JSON body.
pub fn ok<T: Serialize>(value: &T) -> Reply {
    Ok(axum::Json(value).into_response())
}

pub(crate) async fn dispatch(State(api): State<Api>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.clone();
    // HEAD is GET without a body, as on Google's front end.
    let lookup_method = if method == Method::HEAD {
        Method::GET
    } else {
        method.clone()
    };
    let mut path_matched = false;
    let mut found = None;
    for route in ROUTES {
        if let Some(params) = crate::path::match_template(route.template, &path) {
            path_matched = true;
            if route.method == lookup_method {
                found = Some((route, params));
                break;
            }
        }
    }
    let Some((route, params)) = found else {
        return not_routed(&method, &path, path_matched);
    };
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let caller = match api.auth.authenticate_call(header, route.rpc) {
        Ok(Caller::Anonymous) => {
            return error_response(&Error::unauthenticated(crate::auth::MISSING_CREDENTIALS));
        }
        Ok(caller) => caller,
        Err(error) => return error_response(&error),
    };
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(&Error::invalid(format!(
                "Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."
            )));
        }
    };
    let request = Request {
        caller,
        params,
        query: Query::parse(parts.uri.query()),
        peer: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip()),
        headers: parts.headers,
        body,
    };
    match (route.handler)(api, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

fn not_routed(method: &Method, path: &str, path_matched: bool) -> Response {
    if path_matched {
        // Google's front end: a known path with the wrong verb.
        let mut response = Response::new(Body::from(
            "{\"error\":{\"code\":405,\"message\":\"Method not allowed.\",\"status\":\"INVALID_ARGUMENT\"}}",
        ));
        *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        return response;
    }
    // Google answers unknown paths with a 404 HTML page; a JSON 404 is friendlier for clients.
    error_response(&Error::not_found(format!(
        "The requested URL {path} was not found on this server. ({method})"
    )))
}

//! Helpers shared by the Resource Manager, IAM admin, Org Policy and Service Usage APIs: page
//! tokens, timestamps, done operations and resource-name parsing.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{Control, Error, ResourceRef};

/// A list request's paging parameters, as clients send them.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// `pageSize`; `None` or 0 = the method's default.
    pub page_size: Option<i64>,
    /// `pageToken` from a previous response.
    pub page_token: Option<String>,
}

impl PageRequest {
    /// Cuts `items` to the requested page; returns the page and the next page token ("" at the
    /// end). Tokens are opaque offsets; a token that does not decode is INVALID_ARGUMENT.
    pub fn apply<T>(
        &self,
        items: Vec<T>,
        default_size: usize,
        max_size: usize,
    ) -> Result<(Vec<T>, String), Error> {
        let size = match self.page_size {
            None | Some(0) => default_size,
            Some(n) if n < 0 => {
                return Err(Error::invalid_field(
                    "page_size",
                    "The page size must not be negative.",
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(max_size).min(max_size),
        };
        let offset = match self.page_token.as_deref() {
            None | Some("") => 0,
            Some(token) => decode_token(token)
                .ok_or_else(|| Error::invalid_field("page_token", "Invalid page token."))?,
        };
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
        let next = offset.saturating_add(size);
        let token = if next < total {
            encode_token(next)
        } else {
            String::new()
        };
        Ok((page, token))
    }
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_token(token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

/// Google's timestamp form for resource fields.
pub fn timestamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A finished `google.longrunning.Operation` carrying `response`.
pub fn done_operation(name: &str, metadata: Value, response: Value) -> Value {
    json!({"name": name, "metadata": metadata, "done": true, "response": response})
}

/// Adds `@type` to a message so it can travel as an `Any`.
pub fn any(type_name: &str, mut message: Value) -> Value {
    if let Some(object) = message.as_object_mut() {
        object.insert(
            "@type".into(),
            json!(format!("type.googleapis.com/{type_name}")),
        );
    }
    message
}

/// Splits a container name `projects/X`, `folders/X` or `organizations/X`.
pub fn split_container(name: &str) -> Option<(&str, &str)> {
    let (kind, id) = name.split_once('/')?;
    let ok = matches!(kind, "projects" | "folders" | "organizations")
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some((kind, id))
}

impl Control {
    /// The IAM resource for `projects/{id or number}`, `folders/{id}` or `organizations/{id}`.
    /// Project numbers are resolved to ids; an unknown project keeps the given name, so that the
    /// authorization that follows refuses it without revealing whether it exists.
    pub fn container_ref(&self, name: &str) -> Result<ResourceRef, Error> {
        let Some((kind, id)) = split_container(name) else {
            return Err(Error::invalid_field(
                "name",
                format!("Invalid resource name {name}."),
            ));
        };
        Ok(match kind {
            "projects" => ResourceRef::Project(
                self.resolve_project(id)?
                    .map(|info| info.id)
                    .unwrap_or_else(|| id.to_owned()),
            ),
            "folders" => ResourceRef::Folder(id.to_owned()),
            _ => ResourceRef::Organization(id.to_owned()),
        })
    }

    /// The name responses use for a container: projects by number, as Google's v2/v3 APIs do.
    pub fn container_display_name(&self, resource: &ResourceRef) -> Result<String, Error> {
        Ok(match resource {
            ResourceRef::Project(id) => match self.resolve_project(id)? {
                Some(info) => format!("projects/{}", info.number),
                None => resource.relative_name(),
            },
            other => other.relative_name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_the_whole_list_once() {
        let items: Vec<u32> = (0..7).collect();
        let mut seen = Vec::new();
        let mut request = PageRequest {
            page_size: Some(3),
            page_token: None,
        };
        loop {
            let (page, next) = request.apply(items.clone(), 10, 100).unwrap();
            seen.extend(page);
            if next.is_empty() {
                break;
            }
            request.page_token = Some(next);
        }
        assert_eq!(seen, items);
        let bad = PageRequest {
            page_size: None,
            page_token: Some("nope!".into()),
        };
        assert!(matches!(
            bad.apply(items, 10, 100),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn containers_are_recognised() {
        assert_eq!(
            split_container("projects/demo-project"),
            Some(("projects", "demo-project"))
        );
        assert_eq!(split_container("folders/12"), Some(("folders", "12")));
        assert_eq!(split_container("buckets/x"), None);
        assert_eq!(split_container("projects/"), None);
        assert_eq!(split_container("projects/a/b"), None);
    }
}

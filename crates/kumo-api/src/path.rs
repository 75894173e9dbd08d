//! Google-style path templates: `/v2/projects/{project}/locations/{location}/services/{service}:getIamPolicy`.
//! A `{param}` matches exactly one path segment; a trailing `:verb` is a custom method, matched
//! against the text after the last `:` of the final segment (as Google's HTTP rules do). Segments
//! are percent-decoded, because clients send `%40` for the `@` of service-account emails.

/// Parameters captured from the path, in template order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The decoded value of `{name}`, or an empty string when the template has no such parameter
    /// (a programming error caught by the route-table test).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    }
}

/// Matches `path` against `template`; `None` if it does not match.
pub fn match_template(template: &'static str, path: &str) -> Option<Params> {
    let (template_body, template_verb) = split_verb(template);
    let (path_body, path_verb) = split_verb(path);
    if template_verb != path_verb {
        return None;
    }
    let mut template_segments = template_body.split('/');
    let mut path_segments = path_body.split('/');
    let mut params = Vec::new();
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return Some(Params(params)),
            (Some(t), Some(p)) => {
                if let Some(name) = t.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
                    if p.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(p)?));
                } else if t != p {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Splits `a/b/c:verb` into (`a/b/c`, Some(`verb`)). Only a suffix of letters after the last
/// segment's last `:` is a custom verb (`:getIamPolicy`); a `:` elsewhere belongs to the name, as
/// in `dockerImages/app@sha256:4f3c…`, which clients do not escape.
fn split_verb(path: &str) -> (&str, Option<&str>) {
    let last_slash = path.rfind('/').unwrap_or(0);
    match path[last_slash..].rfind(':') {
        Some(offset) => {
            let at = last_slash + offset;
            let verb = &path[at + 1..];
            if !verb.is_empty() && verb.bytes().all(|b| b.is_ascii_alphabetic()) {
                (&path[..at], Some(verb))
            } else {
                (path, None)
            }
        }
        None => (path, None),
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or invalid UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_plain_and_custom_methods() {
        let t = "/v2/projects/{project}/locations/{location}/services/{service}";
        let p = match_template(t, "/v2/projects/p1/locations/us-central1/services/hello").unwrap();
        assert_eq!(p.get("project"), "p1");
        assert_eq!(p.get("service"), "hello");
        assert!(
            match_template(
                t,
                "/v2/projects/p1/locations/us-central1/services/hello:getIamPolicy"
            )
            .is_none()
        );
        let t2 = "/v2/projects/{project}/locations/{location}/services/{service}:getIamPolicy";
        let p = match_template(
            t2,
            "/v2/projects/p1/locations/l/services/hello:getIamPolicy",
        )
        .unwrap();
        assert_eq!(p.get("service"), "hello");
        assert!(
            match_template(
                t2,
                "/v2/projects/p1/locations/l/services/hello:setIamPolicy"
            )
            .is_none()
        );
        assert!(match_template(t2, "/v2/projects/p1/locations/l/services/hello").is_none());
        assert!(match_template(t, "/v2/projects/p1/locations/l/services/").is_none());
        assert!(match_template(t, "/v2/projects/p1/locations/l/services/a/b").is_none());
        let image = "/v1/projects/{project}/locations/{location}/repositories/{repository}/dockerImages/{image}";
        let p = match_template(
            image,
            "/v1/projects/p/locations/us/repositories/r/dockerImages/app@sha256:4f3c09",
        )
        .unwrap();
        assert_eq!(p.get("image"), "app@sha256:4f3c09");
    }

    #[test]
    fn decodes_percent_escapes() {
        let t = "/v1/projects/{project}/serviceAccounts/{account}:generateIdToken";
        let p = match_template(t, "/v1/projects/-/serviceAccounts/runner%40my-project.iam.gserviceaccount.com:generateIdToken").unwrap();
        assert_eq!(
            p.get("account"),
            "runner@my-project.iam.gserviceaccount.com"
        );
        assert!(
            match_template(t, "/v1/projects/-/serviceAccounts/bad%4:generateIdToken").is_none()
        );
    }
}

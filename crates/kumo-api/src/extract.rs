//! Request bodies and query strings, with bad input turned into Google's `INVALID_ARGUMENT`
//! answers instead of a framework's default rejection.

use kumo_control::{Error, FieldViolation};
use serde::de::DeserializeOwned;

/// Google's front end refuses bodies over 10 MiB with this text.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Parses a JSON body into a wire type. `root` names the request message's body field for the
/// error path (`service` in `Unknown name "x" at 'service'`); the text is kumo-wire's rendering of
/// Google's payload errors.
pub fn json_body<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T, Error> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    kumo_wire::protobuf::from_json_slice(root, body).map_err(|error| {
        let message = error.to_string();
        Error::InvalidArgument {
            message: message.clone(),
            violations: vec![FieldViolation {
                field: root.to_owned(),
                description: message,
            }],
        }
    })
}

/// Decoded query parameters, in order (a key may repeat).
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses `a=b&c=d`, percent- and plus-decoding both sides.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|part| !part.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |text: &str| {
                crate::path::percent_decode(&text.replace('+', " "))
                    .unwrap_or_else(|| text.to_owned())
            };
            pairs.push((decode(key), decode(value)));
        }
        Query(pairs)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`; absent = false).
    pub fn flag(&self, key: &str) -> Result<bool, Error> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") | Some("") => Ok(true),
            Some(other) => Err(Error::invalid(format!(
                "Invalid value at '{key}' (TYPE_BOOL), \"{other}\""
            ))),
        }
    }

    /// An integer parameter such as `pageSize`.
    pub fn int(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|_| {
                Error::invalid(format!(
                    "Invalid value at '{key}' (TYPE_INT32), \"{value}\""
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Thing {
        #[serde(default)]
        #[expect(dead_code, reason = "only parsed")]
        display_name: String,
    }

    #[test]
    fn unknown_field_gets_googles_text() {
        let error = json_body::<Thing>(br#"{"displayName":"a","foo":1}"#, "service").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid JSON payload received. Unknown name \"foo\" at 'service': Cannot find field."
        );
    }

    #[test]
    fn malformed_json_is_invalid_argument() {
        let error = json_body::<Thing>(b"{\"displayName\":", "service").unwrap_err();
        assert!(matches!(error, Error::InvalidArgument { .. }));
        assert!(
            error
                .to_string()
                .starts_with("Invalid JSON payload received.")
        );
    }

    #[test]
    fn query_decodes_system_parameters() {
        let query = Query::parse(Some(
            "%24alt=json%3Benum-encoding%3Dint&pageSize=5&validateOnly=true",
        ));
        assert_eq!(query.get("$alt"), Some("json;enum-encoding=int"));
        assert_eq!(query.int("pageSize").unwrap(), Some(5));
        assert!(query.flag("validateOnly").unwrap());
        assert!(query.int("x").unwrap().is_none());
    }
}

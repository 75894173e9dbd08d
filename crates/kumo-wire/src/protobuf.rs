//! Proto3 JSON mapping helpers: int64-as-string, Timestamp, Duration, FieldMask, enums, and
//! Google-shaped payload errors.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;

/// A `google.protobuf.Any` in JSON: an object carrying `@type` plus the message's fields.
/// Kept open-ended because the payload type is only known from `@type`.
pub type Any = serde_json::Value;

/// Builds an `Any` from a message and its full type name (e.g. `google.cloud.run.v2.Service`).
pub fn to_any<T: serde::Serialize>(type_name: &str, msg: &T) -> Result<Any, serde_json::Error> {
    let mut v = serde_json::to_value(msg)?;
    let mut out = serde_json::Map::new();
    out.insert(
        "@type".into(),
        serde_json::Value::String(format!("type.googleapis.com/{type_name}")),
    );
    if let serde_json::Value::Object(fields) = &mut v {
        out.append(fields);
    }
    Ok(serde_json::Value::Object(out))
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// int64/uint64 fields: written as JSON strings, read from strings or numbers (proto3 JSON).
pub mod int64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(i64),
        Str(String),
    }

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_str(&n.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<NumOrStr>::deserialize(d)? {
            None => Ok(None),
            Some(NumOrStr::Num(n)) => Ok(Some(n)),
            Some(NumOrStr::Str(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("invalid int64 value: \"{s}\""))),
        }
    }
}

/// Formats a Timestamp the way Google does: RFC 3339 UTC with `Z`, fractional digits only when
/// non-zero (0, 3, 6 or 9 digits).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Formats a Timestamp with whole seconds only; google-auth's impersonated credentials parse
/// `expireTime` with `%Y-%m-%dT%H:%M:%SZ` and fail on anything else.
pub fn format_timestamp_secs(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 Timestamp (any offset, up to nanosecond precision).
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("invalid value for google.protobuf.Timestamp: \"{s}\""))
}

/// A `google.protobuf.Duration` as seconds and nanos (same sign).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub seconds: i64,
    pub nanos: i32,
}

/// Largest |seconds| a Duration may hold (10,000 years), per duration.proto.
const MAX_DURATION_SECS: i64 = 315_576_000_000;

impl Duration {
    pub fn from_secs(seconds: i64) -> Self {
        Self { seconds, nanos: 0 }
    }

    /// Parses `"3.5s"`, `"-0.001s"`, `"300s"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || format!("invalid value for google.protobuf.Duration: \"{s}\"");
        let body = s.strip_suffix('s').ok_or_else(err)?;
        let (neg, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let seconds: i64 = int.parse().map_err(|_| err())?;
        if seconds > MAX_DURATION_SECS {
            return Err(err());
        }
        let nanos: i32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| err())?
        };
        Ok(if neg {
            Self {
                seconds: -seconds,
                nanos: -nanos,
            }
        } else {
            Self { seconds, nanos }
        })
    }

    /// Formats as Google does: `"300s"`, `"3.500s"` (3, 6 or 9 fractional digits).
    pub fn format(&self) -> String {
        let neg = self.seconds < 0 || self.nanos < 0;
        let secs = self.seconds.unsigned_abs();
        let nanos = self.nanos.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if nanos == 0 {
            format!("{sign}{secs}s")
        } else if nanos.is_multiple_of(1_000_000) {
            format!("{sign}{secs}.{:03}s", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{sign}{secs}.{:06}s", nanos / 1_000)
        } else {
            format!("{sign}{secs}.{nanos:09}s")
        }
    }

    pub fn to_std(&self) -> Option<std::time::Duration> {
        if self.seconds < 0 || self.nanos < 0 {
            return None;
        }
        Some(std::time::Duration::new(
            self.seconds.unsigned_abs(),
            self.nanos.unsigned_abs(),
        ))
    }
}

/// Splits a JSON FieldMask (`"a,b.c"`) into its paths; empty string means no paths.
pub fn parse_field_mask(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A JSON payload Google's front end would refuse, with Google's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    pub message: String,
}

/// Deserialises a request body, producing Google's error text on failure. `root` is the name of
/// the body field in the request message (`"service"` for CreateService), or `""` for `body: "*"`.
pub fn from_json_slice<T: DeserializeOwned>(root: &str, body: &[u8]) -> Result<T, PayloadError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| payload_error(root, &e))
}

fn payload_error(root: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> PayloadError {
    // serde's path points at the containing message (plus the unknown key for unknown fields).
    let mut segs: Vec<String> = Vec::new();
    if !root.is_empty() {
        segs.push(root.to_owned());
    }
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => {
                if let Some(last) = segs.last_mut() {
                    last.push_str(&format!("[{index}]"));
                }
            }
            serde_path_to_error::Segment::Map { key } => segs.push(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => segs.push(variant.clone()),
            serde_path_to_error::Segment::Unknown => segs.push("?".into()),
        }
    }
    let inner = e.inner().to_string();
    if let Some(name) = unknown_field_name(&inner) {
        // The path's last segment is the unknown key itself.
        segs.pop();
        let at = segs.join(".");
        let message = if at.is_empty() {
            format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
        } else {
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
            )
        };
        return PayloadError { message };
    }
    let at = segs.join(".");
    let detail = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
    let message = if at.is_empty() {
        format!("Invalid JSON payload received. {detail}")
    } else {
        format!("Invalid JSON payload received. Invalid value at '{at}': {detail}")
    };
    PayloadError { message }
}

fn unknown_field_name(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Declares a proto enum that serialises as its NAME and deserialises from NAME or number, as
/// GAPIC clients send `$alt=json;enum-encoding=int` bodies.
#[macro_export]
macro_rules! wire_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $num:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub const fn number(self) -> i32 {
                match self { $($name::$variant => $num),+ }
            }

            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            pub fn from_number(n: i64) -> Option<Self> {
                match n { $($num => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {} name or number", stringify!($name))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| E::custom(format!("invalid value for enum type: \"{v}\"")))
                    }
                    fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        $name::from_number(v).ok_or_else(|| E::custom(format!("invalid value for enum type: {v}")))
                    }
                    fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        i64::try_from(v).ok().and_then($name::from_number)
                            .ok_or_else(|| E::custom(format!("invalid value for enum type: {v}")))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

//! The JWT payload of spec §7: its wire shape (serde) and its semantic
//! validation.
//!
//! The structs mirror Qdrant's field set and field order on purpose: serde
//! derives give the same answers to odd inputs (unknown claims ignored,
//! duplicate claims refused, `access: null` refused, `payload: null` allowed).

use serde::{Deserialize, Deserializer};

use crate::principal::{Access, AccessMode, CollectionAccess, GlobalAccess, ValueExists};

/// Wire form of the claims. A field that fails to deserialize makes the whole
/// token "not a usable JWT" (401 `Invalid API key or JWT`).
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    /// Inference/billing token; not used for authorization.
    pub(crate) sub: Option<String>,
    /// Seconds since the epoch. `u64` on purpose: a fractional or negative
    /// `exp` fails here (401) before jsonwebtoken's lenient `exp` check, which
    /// would round it.
    #[allow(
        dead_code,
        reason = "validated by jsonwebtoken; kept so its type is enforced"
    )]
    pub(crate) exp: Option<u64>,
    /// Absent means global manage.
    #[serde(default = "default_access")]
    pub(crate) access: WireAccess,
    pub(crate) value_exists: Option<WireValueExists>,
    #[serde(default)]
    pub(crate) subject: Option<String>,
}

fn default_access() -> WireAccess {
    WireAccess::Global(WireGlobal::Manage)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireAccess {
    Global(WireGlobal),
    Collections(Vec<WireCollectionAccess>),
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) enum WireGlobal {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "m")]
    Manage,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireCollectionAccess {
    collection: String,
    access: WireMode,
    /// Payload constraints were removed in Qdrant 1.16. The key is still read so
    /// that old tokens carrying one are refused rather than silently widened.
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum WireMode {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "rw")]
    ReadWrite,
    #[serde(rename = "prw")]
    PointsReadWrite,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireValueExists {
    collection: String,
    matches: Vec<WireKeyValue>,
}

#[derive(Debug, Deserialize)]
struct WireKeyValue {
    #[serde(deserialize_with = "json_path")]
    key: String,
    value: WireValue,
}

/// Qdrant's match value: string, 64-bit signed integer or boolean.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireValue {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// Reads a JSON path and checks its syntax, so a malformed path fails the
/// claims (401) as it does in Qdrant.
fn json_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let path = String::deserialize(deserializer)?;
    if is_valid_json_path(&path) {
        Ok(path)
    } else {
        Err(serde::de::Error::custom("Invalid json path"))
    }
}

/// Qdrant's payload key grammar: a first key (bare or quoted), then any of
/// `.key`, `."quoted key"`, `[<digits>]`, `[]`. Bare keys are one or more
/// alphanumeric (Unicode), `_` or `-` characters; quoted keys hold anything
/// but `"` and `\`.
fn is_valid_json_path(path: &str) -> bool {
    fn bare_key(s: &str) -> Option<&str> {
        let end = s
            .char_indices()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .map_or(s.len(), |(i, _)| i);
        (end > 0).then(|| &s[end..])
    }
    fn quoted_key(s: &str) -> Option<&str> {
        let body = s.strip_prefix('"')?;
        let end = body.find(['"', '\\'])?;
        body[end..].strip_prefix('"')
    }
    fn key(s: &str) -> Option<&str> {
        bare_key(s).or_else(|| quoted_key(s))
    }

    let Some(mut rest) = key(path) else {
        return false;
    };
    while !rest.is_empty() {
        rest = if let Some(after_dot) = rest.strip_prefix('.') {
            match key(after_dot) {
                Some(r) => r,
                None => return false,
            }
        } else if let Some(after_bracket) = rest.strip_prefix('[') {
            let digits = after_bracket.bytes().take_while(u8::is_ascii_digit).count();
            let Some(r) = after_bracket[digits..].strip_prefix(']') else {
                return false;
            };
            // An index must fit a usize, as Qdrant parses it into one.
            if digits > 0 && after_bracket[..digits].parse::<usize>().is_err() {
                return false;
            }
            r
        } else {
            return false;
        };
    }
    true
}

/// The claims, once validated, in the crate's own vocabulary.
pub(crate) struct ValidClaims {
    pub(crate) access: Access,
    pub(crate) subject: Option<String>,
    pub(crate) inference_token: Option<String>,
    pub(crate) value_exists: Option<ValueExists>,
}

impl Claims {
    /// Semantic validation of `access` (step 5 of §6's order). The error text
    /// follows the shape of Qdrant's validator output, e.g.
    /// `access[0].access.collection: Collection name should be unique`.
    pub(crate) fn validate(self) -> Result<ValidClaims, String> {
        let access = match self.access {
            WireAccess::Global(WireGlobal::Read) => Access::Global(GlobalAccess::Read),
            WireAccess::Global(WireGlobal::Manage) => Access::Global(GlobalAccess::Manage),
            WireAccess::Collections(items) => Access::Collections(validate_collections(items)?),
        };
        let value_exists = self.value_exists.map(|v| ValueExists {
            collection: v.collection,
            matches: v
                .matches
                .into_iter()
                .map(|kv| {
                    let value = match kv.value {
                        WireValue::String(s) => serde_json::Value::String(s),
                        WireValue::Integer(i) => serde_json::Value::from(i),
                        WireValue::Bool(b) => serde_json::Value::Bool(b),
                    };
                    (kv.key, value)
                })
                .collect(),
        });
        Ok(ValidClaims {
            access,
            subject: self.subject,
            inference_token: self.sub,
            value_exists,
        })
    }
}

fn validate_collections(items: Vec<WireCollectionAccess>) -> Result<Vec<CollectionAccess>, String> {
    let mut seen = std::collections::HashSet::new();
    let mut message = String::new();
    // Errors are numbered among the failing items only, as the validator's
    // list merge does; each failing field adds one `path: text` fragment.
    let mut failing = 0usize;
    for item in &items {
        let duplicate = !seen.insert(item.collection.as_str());
        let payload = item.payload.is_some();
        if duplicate {
            message.push_str(&format!(
                "access[{failing}].access.collection: Collection name should be unique"
            ));
        }
        if payload {
            message.push_str(&format!(
                "access[{failing}].access.payload: The 'payload' constraint is deprecated and should not be used"
            ));
        }
        if duplicate || payload {
            failing += 1;
        }
    }
    if !message.is_empty() {
        return Err(message);
    }
    Ok(items
        .into_iter()
        .map(|item| CollectionAccess {
            collection: item.collection,
            mode: match item.access {
                WireMode::Read => AccessMode::Read,
                WireMode::ReadWrite => AccessMode::ReadWrite,
                WireMode::PointsReadWrite => AccessMode::PointsReadWrite,
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: serde_json::Value) -> Result<Claims, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// Prevents the "absent access = manage" rule from turning into "absent =
    /// nothing" (or the reverse for `null`), which would change every old token.
    #[test]
    fn access_absent_is_manage_but_null_is_refused() {
        let claims = parse(json!({})).unwrap().validate().unwrap();
        assert_eq!(claims.access, Access::Global(GlobalAccess::Manage));
        assert!(parse(json!({"access": null})).is_err());
        assert!(parse(json!({"access": "x"})).is_err());
        assert!(parse(json!({"access": "rw"})).is_err());
        assert!(parse(json!({"access": 1})).is_err());
        assert!(parse(json!({"access": {"collection": "a", "access": "r"}})).is_err());
    }

    /// Prevents lenient numeric parsing of `exp` (jsonwebtoken alone rounds
    /// floats): fractional, negative and string `exp` must fail the claims.
    #[test]
    fn exp_must_be_unsigned_integer() {
        assert!(parse(json!({"exp": 1})).is_ok());
        assert!(parse(json!({"exp": 1.5})).is_err());
        assert!(parse(json!({"exp": -1})).is_err());
        assert!(parse(json!({"exp": "1"})).is_err());
        assert!(parse(json!({"exp": null})).is_ok());
    }

    /// Prevents unknown keys from failing tokens issued by other tools, and
    /// unknown access modes from being accepted.
    #[test]
    fn unknown_keys_ignored_unknown_modes_refused() {
        let claims = parse(json!({
            "iss": "x", "aud": ["y"], "nbf": 99999999999u64, "jti": 3,
            "access": [{"collection": "a", "access": "prw", "extra": true}]
        }))
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(
            claims.access,
            Access::Collections(vec![CollectionAccess {
                collection: "a".into(),
                mode: AccessMode::PointsReadWrite
            }])
        );
        assert!(parse(json!({"access": [{"collection": "a", "access": "m"}]})).is_err());
        assert!(parse(json!({"access": [{"collection": "a"}]})).is_err());
        assert!(parse(json!({"access": [{"access": "r"}]})).is_err());
    }

    /// Prevents duplicate entries (ambiguous rights) and deprecated payload
    /// constraints (silently widened rights) from being accepted.
    #[test]
    fn semantic_validation_messages() {
        let err = parse(json!({"access": [
            {"collection": "a", "access": "r"},
            {"collection": "a", "access": "rw"}
        ]}))
        .unwrap()
        .validate()
        .err()
        .unwrap();
        assert_eq!(
            err,
            "access[0].access.collection: Collection name should be unique"
        );

        let err = parse(json!({"access": [
            {"collection": "a", "access": "r"},
            {"collection": "b", "access": "rw", "payload": {"k": "v"}}
        ]}))
        .unwrap()
        .validate()
        .err()
        .unwrap();
        assert_eq!(
            err,
            "access[0].access.payload: The 'payload' constraint is deprecated and should not be used"
        );

        // `payload: null` carries no constraint and stays valid.
        assert!(
            parse(json!({"access": [{"collection": "a", "access": "r", "payload": null}]}))
                .unwrap()
                .validate()
                .is_ok()
        );
        // An empty object is still "present with a value".
        assert!(
            parse(json!({"access": [{"collection": "a", "access": "r", "payload": {}}]}))
                .unwrap()
                .validate()
                .is_err()
        );
    }

    /// Prevents `value_exists` values or paths that Qdrant refuses from being
    /// accepted (and then failing later, at lookup time, with another status).
    #[test]
    fn value_exists_shapes() {
        let claims = parse(json!({"value_exists": {
            "collection": "users",
            "matches": [{"key": "user.id", "value": 7}, {"key": "role", "value": "admin"},
                        {"key": "ok", "value": true}]
        }}))
        .unwrap()
        .validate()
        .unwrap();
        let ve = claims.value_exists.unwrap();
        assert_eq!(ve.collection, "users");
        assert_eq!(
            ve.matches,
            vec![
                ("user.id".to_owned(), json!(7)),
                ("role".to_owned(), json!("admin")),
                ("ok".to_owned(), json!(true))
            ]
        );
        for bad in [
            json!({"collection": "u", "matches": [{"key": "a", "value": 1.5}]}),
            json!({"collection": "u", "matches": [{"key": "a", "value": null}]}),
            json!({"collection": "u", "matches": [{"key": "", "value": 1}]}),
            json!({"collection": "u", "matches": [{"key": "a..b", "value": 1}]}),
            json!({"collection": "u"}),
            json!({"matches": []}),
        ] {
            assert!(parse(json!({ "value_exists": bad })).is_err(), "{bad}");
        }
    }

    /// Prevents the JSON path check from refusing paths Qdrant accepts, or
    /// accepting ones it refuses.
    #[test]
    fn json_path_grammar() {
        for ok in [
            "a",
            "a.b",
            "a[0]",
            "a[]",
            "a[1][50].b-c[].\"q[.]x\"",
            "\"sp ace\"",
            "ключ",
            "_-1",
        ] {
            assert!(is_valid_json_path(ok), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a[",
            "a[x]",
            "a b",
            "\"a",
            "a.\"b\\\"\"",
            "a]",
            "a[99999999999999999999999]",
        ] {
            assert!(!is_valid_json_path(bad), "{bad}");
        }
    }
}

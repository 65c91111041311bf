//! The key record of spec §15, the create request, and their validation.
//!
//! Request parsing is done field by field (not with one derive) so that every
//! refusal names the field it is about, including type errors deep inside
//! `access_rules`.

use std::fmt;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use osprey_auth::{Access, AccessMode, CollectionAccess, GlobalAccess, PayloadFilter};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{KeyError, Result};

/// Most access rules a key may carry.
pub const MAX_ACCESS_RULES: usize = 20;
/// Most `key: value` pairs in one payload restriction.
pub const MAX_PAYLOAD_PAIRS: usize = 16;
/// Longest `expires_in_days` (100 years).
const MAX_EXPIRES_IN_DAYS: i64 = 36_500;
/// Length bounds of a key name, in characters.
const NAME_CHARS: std::ops::RangeInclusive<usize> = 4..=128;
/// Longest collection name, in bytes (Qdrant's limit).
const MAX_COLLECTION_NAME: usize = 255;
/// Longest `created_by` label, in characters.
const MAX_LABEL_CHARS: usize = 128;

/// Granular (a JWT with rules) or legacy admin (opaque, full access).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// An HS256 JWT whose rules live in the registry.
    #[default]
    Granular,
    /// A legacy admin key: an opaque random string with global manage.
    Admin,
}

/// One access rule: a global one, or one per collection (spec §15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRule {
    /// Cluster-wide read or manage. Must be the only rule.
    GlobalAccess(GlobalRule),
    /// Access to one collection, optionally restricted to matching points.
    CollectionAccess(CollectionRule),
}

/// `{"access_type": "read" | "manage"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalRule {
    /// Read or manage.
    pub access_type: GlobalAccessType,
}

/// The access type of a global rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalAccessType {
    /// Every read (Qdrant's `"r"`).
    Read,
    /// Everything (Qdrant's `"m"`); still not root.
    Manage,
}

/// `{"collection_name", "access_type", "payload"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionRule {
    /// Matched literally against the name in each request (spec §9).
    pub collection_name: String,
    /// Read or read-write.
    pub access_type: CollectionAccessType,
    /// Points the key may see and touch: payload `key == value` for every
    /// pair. Empty: the whole collection.
    #[serde(default)]
    pub payload: PayloadFilter,
}

/// The access type of a collection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionAccessType {
    /// Reads (Qdrant's `"r"`).
    Read,
    /// Reads and writes (Qdrant's `"rw"`).
    ReadWrite,
}

/// A key record as the API shows it. The secret is never part of it; only
/// [`CreatedKey`] carries it, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Made by the server.
    pub id: Uuid,
    /// 4–128 letters, digits, spaces, `_` and `-`.
    pub name: String,
    /// Granular or admin.
    pub kind: KeyKind,
    /// Set by the server.
    pub created_at: DateTime<Utc>,
    /// Which root key created it (`root:<postfix>`), or the caller's label.
    pub created_by: String,
    /// Whole seconds; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Granular keys: one global rule, or 1–20 collection rules. Admin keys:
    /// none (they have full access).
    pub access_rules: Vec<AccessRule>,
    /// The last 6 characters of the key, to recognise it.
    pub postfix: String,
    /// When the key last authenticated a request; coarse (persisted at most
    /// once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set by revoke.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Granular keys: the signing secret's id. Retiring that secret ends the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// Whether a key works, as lists show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Accepted (as far as the record goes; a retired signing secret or
    /// granular access off can still refuse a granular key).
    Active,
    /// Past `expires_at`.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyRecord {
    /// Neither revoked nor past its expiry at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == KeyStatus::Active
    }

    /// The status at `now`; revocation wins over expiry.
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| now >= at) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// The status now.
    pub fn status(&self) -> KeyStatus {
        self.status_at(Utc::now())
    }
}

/// The answer to create: the record plus the key, shown only this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    /// The new record.
    #[serde(flatten)]
    pub record: KeyRecord,
    /// The secret. Stored nowhere; only its SHA-256 is kept.
    pub key: String,
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKey")
            .field("record", &self.record)
            .field("key", &"<secret>")
            .finish()
    }
}

/// The body of `POST /api-keys`. Build it directly, or parse it with
/// [`CreateKeyRequest::from_json`], which names the field of every refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateKeyRequest {
    /// Required.
    pub name: String,
    /// Default granular.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<KeyKind>,
    /// An absolute expiry (RFC 3339); exclusive with `expires_in_days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// A relative expiry (≥ 1); exclusive with `expires_at`. Neither: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    /// None given (granular): global manage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_rules: Vec<AccessRule>,
    /// A label for `created_by` instead of the root key's postfix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Fields `POST /api-keys` accepts; anything else is refused.
const CREATE_FIELDS: [&str; 6] = [
    "name",
    "kind",
    "expires_at",
    "expires_in_days",
    "access_rules",
    "created_by",
];

impl CreateKeyRequest {
    /// Parses the JSON body. Unknown fields, wrong types and malformed rules
    /// are refused with a message naming the field.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let mut object = parse_object(body, &CREATE_FIELDS)?;
        let name = match object.remove("name") {
            None | Some(Value::Null) => return Err(KeyError::invalid("name", "is required")),
            Some(value) => field::<String>("name", value)?,
        };
        let kind = optional::<KeyKind>(&mut object, "kind")?;
        let expires_at = match object.remove("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(parse_time("expires_at", &text)?),
            Some(_) => {
                return Err(KeyError::Format(
                    "expires_at: expected an RFC 3339 time as a string, or null".into(),
                ));
            }
        };
        let expires_in_days = optional::<i64>(&mut object, "expires_in_days")?;
        let access_rules = match object.remove("access_rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| field::<AccessRule>(&format!("access_rules[{i}]"), item))
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(KeyError::Format(
                    "access_rules: expected an array of rules".into(),
                ));
            }
        };
        let created_by = optional::<String>(&mut object, "created_by")?;
        Ok(CreateKeyRequest {
            name,
            kind,
            expires_at,
            expires_in_days,
            access_rules,
            created_by,
        })
    }
}

/// The body of `GET`/`PUT /api-keys/settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// On: granular keys are honoured and created; new admin keys are
    /// refused (existing ones keep working). Off: granular keys are refused
    /// on every request and cannot be created. New storage starts on.
    pub granular_access: bool,
}

impl Settings {
    /// Parses the JSON body of `PUT /api-keys/settings`.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let mut object = parse_object(body, &["granular_access"])?;
        match object.remove("granular_access") {
            None | Some(Value::Null) => Err(KeyError::invalid("granular_access", "is required")),
            Some(value) => Ok(Settings {
                granular_access: field("granular_access", value)?,
            }),
        }
    }
}

/// A JSON object with only `allowed` fields.
fn parse_object(body: &[u8], allowed: &[&str]) -> Result<serde_json::Map<String, Value>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| KeyError::Format(error.to_string()))?;
    let Value::Object(object) = value else {
        return Err(KeyError::Format("expected a JSON object".into()));
    };
    if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(KeyError::Format(format!(
            "unknown field `{unknown}`, expected one of {}",
            allowed
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(object)
}

fn field<T: DeserializeOwned>(name: &str, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|error| KeyError::Format(format!("{name}: {error}")))
}

fn optional<T: DeserializeOwned>(
    object: &mut serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<T>> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => field(name, value).map(Some),
    }
}

/// An RFC 3339 time in any offset, as UTC.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|error| {
            KeyError::invalid(
                field,
                format!("`{text}` is not an RFC 3339 time such as 2030-01-31T12:00:00Z ({error})"),
            )
        })
}

/// A validated create request, ready to be stored.
#[derive(Debug, Clone)]
pub(crate) struct ValidRequest {
    pub name: String,
    pub kind: KeyKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub access_rules: Vec<AccessRule>,
    pub label: Option<String>,
}

impl CreateKeyRequest {
    /// Checks every rule of spec §15 at `now`; the first failure names its field.
    pub(crate) fn validate(self, now: DateTime<Utc>) -> Result<ValidRequest> {
        validate_name(&self.name)?;
        let kind = self.kind.unwrap_or_default();
        let expires_at = match (self.expires_at, self.expires_in_days) {
            (Some(_), Some(_)) => {
                return Err(KeyError::invalid(
                    "expires_in_days",
                    "give either expires_at or expires_in_days, not both",
                ));
            }
            (Some(at), None) => {
                let at = at.trunc_subsecs(0);
                if at <= now {
                    return Err(KeyError::invalid(
                        "expires_at",
                        format!("{} is not in the future", rfc3339(at)),
                    ));
                }
                Some(at)
            }
            (None, Some(days)) => {
                if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
                    return Err(KeyError::invalid(
                        "expires_in_days",
                        format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}, got {days}"),
                    ));
                }
                Some(now.trunc_subsecs(0) + Duration::days(days))
            }
            (None, None) => None,
        };
        let access_rules = match kind {
            KeyKind::Admin if !self.access_rules.is_empty() => {
                return Err(KeyError::invalid(
                    "access_rules",
                    "admin keys have full access and take no access rules",
                ));
            }
            KeyKind::Admin => Vec::new(),
            KeyKind::Granular => validate_rules(self.access_rules)?,
        };
        let label = match self.created_by {
            None => None,
            Some(label) => {
                let chars = label.chars().count();
                if chars == 0 || chars > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
                    return Err(KeyError::invalid(
                        "created_by",
                        format!(
                            "must be 1 to {MAX_LABEL_CHARS} characters without control characters"
                        ),
                    ));
                }
                Some(label)
            }
        };
        Ok(ValidRequest {
            name: self.name,
            kind,
            expires_at,
            access_rules,
            label,
        })
    }
}

fn validate_name(name: &str) -> Result<()> {
    let chars = name.chars().count();
    if !NAME_CHARS.contains(&chars) {
        return Err(KeyError::invalid(
            "name",
            format!(
                "must be {} to {} characters long, got {chars}",
                NAME_CHARS.start(),
                NAME_CHARS.end()
            ),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == ' ' || c == '_' || c == '-'))
    {
        return Err(KeyError::invalid(
            "name",
            format!("may hold only letters, digits, spaces, `_` and `-`, not {bad:?}"),
        ));
    }
    if name.chars().all(|c| c == ' ') {
        return Err(KeyError::invalid("name", "must not be only spaces"));
    }
    Ok(())
}

fn validate_rules(rules: Vec<AccessRule>) -> Result<Vec<AccessRule>> {
    if rules.is_empty() {
        return Ok(vec![AccessRule::GlobalAccess(GlobalRule {
            access_type: GlobalAccessType::Manage,
        })]);
    }
    if rules.len() > MAX_ACCESS_RULES {
        return Err(KeyError::invalid(
            "access_rules",
            format!(
                "at most {MAX_ACCESS_RULES} rules are allowed, got {}",
                rules.len()
            ),
        ));
    }
    let globals = rules
        .iter()
        .filter(|r| matches!(r, AccessRule::GlobalAccess(_)))
        .count();
    if globals > 0 && rules.len() > 1 {
        return Err(KeyError::invalid(
            "access_rules",
            "a global_access rule must be the only rule: it cannot be mixed with other rules",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let AccessRule::CollectionAccess(rule) = rule else {
            continue;
        };
        let field = format!("access_rules[{i}].collection_access");
        let name = &rule.collection_name;
        if name.is_empty()
            || name.len() > MAX_COLLECTION_NAME
            || name.contains(['/', '\0'])
            || name.trim() != name
        {
            return Err(KeyError::invalid(
                format!("{field}.collection_name"),
                format!(
                    "must be 1 to {MAX_COLLECTION_NAME} bytes without `/`, NUL or surrounding spaces"
                ),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(KeyError::invalid(
                format!("{field}.collection_name"),
                format!("collection `{name}` appears in more than one rule"),
            ));
        }
        if rule.payload.len() > MAX_PAYLOAD_PAIRS {
            return Err(KeyError::invalid(
                format!("{field}.payload"),
                format!(
                    "at most {MAX_PAYLOAD_PAIRS} key/value pairs are allowed, got {}",
                    rule.payload.len()
                ),
            ));
        }
        for (key, value) in &rule.payload {
            let field = format!("{field}.payload.{key}");
            if !is_payload_key(key) {
                return Err(KeyError::invalid(
                    field,
                    "a payload key is a path of letters, digits, `_` and `-` separated by `.`, \
                     optionally with `[n]` (not `[]`: a restricted field names one value)",
                ));
            }
            let scalar = match value {
                Value::String(_) | Value::Bool(_) => true,
                Value::Number(n) => n.is_i64(),
                _ => false,
            };
            if !scalar {
                return Err(KeyError::invalid(
                    field,
                    "the value must be a string, an integer or a boolean",
                ));
            }
        }
    }
    Ok(rules)
}

/// `a`, `a.b`, `a[0].b_c-d`: what a `match` condition's `key` accepts, less `[]`
/// (quoted keys are left out on purpose: they cannot be told apart reliably
/// from key text by every front end).
fn is_payload_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').all(|segment| {
            let name_end = segment
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(segment.len());
            if name_end == 0 {
                return false;
            }
            let mut rest = &segment[name_end..];
            while !rest.is_empty() {
                let Some(inner) = rest.strip_prefix('[') else {
                    return false;
                };
                let Some(close) = inner.find(']') else {
                    return false;
                };
                // `[]` would name every item of an array: a restricted field
                // must name exactly one value (docs/security.md).
                if close == 0 || !inner[..close].bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                rest = &inner[close + 1..];
            }
            true
        })
}

/// RFC 3339 with whole seconds or nanoseconds as needed, `Z` for UTC.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The auth crate's view of a granular key's rules: the access value and the
/// per-collection payload restrictions.
pub(crate) fn auth_access(
    kind: KeyKind,
    rules: &[AccessRule],
) -> (Access, Vec<(String, PayloadFilter)>) {
    if kind == KeyKind::Admin {
        return (Access::Global(GlobalAccess::Manage), Vec::new());
    }
    let mut collections = Vec::new();
    let mut restrictions = Vec::new();
    for rule in rules {
        match rule {
            AccessRule::GlobalAccess(GlobalRule { access_type }) => {
                let global = match access_type {
                    GlobalAccessType::Read => GlobalAccess::Read,
                    GlobalAccessType::Manage => GlobalAccess::Manage,
                };
                return (Access::Global(global), Vec::new());
            }
            AccessRule::CollectionAccess(rule) => {
                collections.push(CollectionAccess {
                    collection: rule.collection_name.clone(),
                    mode: match rule.access_type {
                        CollectionAccessType::Read => AccessMode::Read,
                        CollectionAccessType::ReadWrite => AccessMode::ReadWrite,
                    },
                });
                if !rule.payload.is_empty() {
                    restrictions.push((rule.collection_name.clone(), rule.payload.clone()));
                }
            }
        }
    }
    if collections.is_empty() {
        // Validation never stores an empty granular rule list; fail safe.
        return (Access::Collections(Vec::new()), Vec::new());
    }
    (Access::Collections(collections), restrictions)
}

/// The `access` claim in Qdrant's form: `"r"`, `"m"` or the collection list.
/// Informational only: the registry record is the source of truth.
pub(crate) fn access_claim(rules: &[AccessRule]) -> Value {
    match rules {
        [AccessRule::GlobalAccess(GlobalRule { access_type })] => match access_type {
            GlobalAccessType::Read => Value::from("r"),
            GlobalAccessType::Manage => Value::from("m"),
        },
        _ => Value::Array(
            rules
                .iter()
                .filter_map(|rule| match rule {
                    AccessRule::CollectionAccess(rule) => Some(serde_json::json!({
                        "collection": rule.collection_name,
                        "access": match rule.access_type {
                            CollectionAccessType::Read => "r",
                            CollectionAccessType::ReadWrite => "rw",
                        },
                    })),
                    AccessRule::GlobalAccess(_) => None,
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<CreateKeyRequest> {
        CreateKeyRequest::from_json(value.to_string().as_bytes())
    }

    fn validate(value: Value) -> Result<ValidRequest> {
        parse(value)?.validate(Utc::now())
    }

    fn field_of(result: Result<ValidRequest>) -> String {
        match result.unwrap_err() {
            KeyError::Invalid { field, .. } => field,
            other => panic!("expected a validation error, got {other}"),
        }
    }

    fn collection(name: &str) -> Value {
        json!({"collection_access": {"collection_name": name, "access_type": "read"}})
    }

    /// Prevents names outside §15's alphabet and length, and a name of only
    /// spaces, from being stored.
    #[test]
    fn names() {
        for good in ["abcd", "CI deploy-key_2", "Ключ тест", &"x".repeat(128)] {
            assert!(validate(json!({"name": good})).is_ok(), "{good}");
        }
        for bad in [
            "abc",
            "",
            "    ",
            "a/bcd",
            "tab\tkey",
            "emoji 🙂",
            &"x".repeat(129),
        ] {
            assert_eq!(field_of(validate(json!({"name": bad}))), "name", "{bad:?}");
        }
        assert_eq!(field_of(validate(json!({}))), "name");
        assert_eq!(field_of(validate(json!({"name": null}))), "name");
        let err = validate(json!({"name": 12})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Format error in JSON body: name:"),
            "{err}"
        );
    }

    /// Prevents unknown fields (top level and inside rules) from being
    /// silently ignored: a typo in `acess_rules` must not yield a manage key.
    #[test]
    fn unknown_fields_are_refused() {
        let err = parse(json!({"name": "abcd", "acess_rules": []})).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(
            err.to_string().contains("unknown field `acess_rules`"),
            "{err}"
        );
        let err = parse(json!({"name": "abcd", "access_rules": [
            {"collection_access": {"collection_name": "a", "access_type": "read", "extra": 1}}
        ]}))
        .unwrap_err();
        assert!(err.to_string().contains("access_rules[0]"), "{err}");
        assert!(err.to_string().contains("extra"), "{err}");
        let err = parse(json!({"name": "abcd", "access_rules": [
            {"global_access": {"access_type": "write"}}
        ]}))
        .unwrap_err();
        assert!(err.to_string().contains("access_rules[0]"), "{err}");
        assert!(CreateKeyRequest::from_json(b"[1]").is_err());
        assert!(CreateKeyRequest::from_json(b"{").is_err());
    }

    /// Prevents more than 20 rules, global rules mixed with others, and
    /// duplicate collections.
    #[test]
    fn rule_shapes() {
        let twenty: Vec<Value> = (0..20).map(|i| collection(&format!("c{i}"))).collect();
        assert!(validate(json!({"name": "abcd", "access_rules": twenty})).is_ok());
        let twenty_one: Vec<Value> = (0..21).map(|i| collection(&format!("c{i}"))).collect();
        let err = validate(json!({"name": "abcd", "access_rules": twenty_one})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bad request: access_rules: at most 20 rules are allowed, got 21"
        );
        let global = json!({"global_access": {"access_type": "read"}});
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "access_rules": [global, collection("a")]})
            )),
            "access_rules"
        );
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "access_rules": [global, global]})
            )),
            "access_rules"
        );
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "access_rules": [collection("a"), collection("a")]})
            )),
            "access_rules[1].collection_access.collection_name"
        );
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "access_rules": [collection("")]})
            )),
            "access_rules[0].collection_access.collection_name"
        );
        // None given: global manage.
        let valid = validate(json!({"name": "abcd"})).unwrap();
        assert_eq!(
            valid.access_rules,
            vec![AccessRule::GlobalAccess(GlobalRule {
                access_type: GlobalAccessType::Manage
            })]
        );
    }

    /// Prevents payload restrictions the engine could not turn into a `must`
    /// match (objects, floats, odd keys).
    #[test]
    fn payload_values() {
        let rule = |payload: Value| {
            json!({"name": "abcd", "access_rules": [{"collection_access": {
                "collection_name": "docs", "access_type": "read-write", "payload": payload
            }}]})
        };
        assert!(
            validate(rule(
                json!({"tenant": "acme", "n": 3, "ok": true, "a.b[0]": "x"})
            ))
            .is_ok()
        );
        for bad in [
            json!({"t": 1.5}),
            json!({"t": null}),
            json!({"t": [1]}),
            json!({"t": {"a": 1}}),
            json!({"": "x"}),
            json!({"a..b": "x"}),
            json!({"a[x]": "x"}),
            json!({"tags[]": "x"}),
        ] {
            let field = field_of(validate(rule(bad.clone())));
            assert!(
                field.starts_with("access_rules[0].collection_access.payload."),
                "{bad}: {field}"
            );
        }
    }

    /// Prevents ambiguous or past expiries.
    #[test]
    fn expiries() {
        let now = Utc::now();
        let past = rfc3339(now - Duration::seconds(5));
        assert_eq!(
            field_of(validate(json!({"name": "abcd", "expires_at": past}))),
            "expires_at"
        );
        assert_eq!(
            field_of(validate(json!({"name": "abcd", "expires_at": "tomorrow"}))),
            "expires_at"
        );
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "expires_in_days": 1, "expires_at": rfc3339(now + Duration::days(2))})
            )),
            "expires_in_days"
        );
        for days in [0, -1, 36_501] {
            assert_eq!(
                field_of(validate(json!({"name": "abcd", "expires_in_days": days}))),
                "expires_in_days"
            );
        }
        let valid = validate(json!({"name": "abcd", "expires_in_days": 90})).unwrap();
        let at = valid.expires_at.unwrap();
        assert_eq!(at.timestamp_subsec_nanos(), 0);
        assert!((at - now - Duration::days(90)).num_seconds().abs() <= 1);
        let valid =
            validate(json!({"name": "abcd", "expires_at": "2999-01-01T02:00:00+02:00"})).unwrap();
        assert_eq!(rfc3339(valid.expires_at.unwrap()), "2999-01-01T00:00:00Z");
        assert!(
            validate(json!({"name": "abcd", "expires_at": null}))
                .unwrap()
                .expires_at
                .is_none()
        );
    }

    /// Prevents an admin-kind key from carrying rules it would not honour.
    #[test]
    fn admin_keys_take_no_rules() {
        assert_eq!(
            field_of(validate(
                json!({"name": "abcd", "kind": "admin", "access_rules": [collection("a")]})
            )),
            "access_rules"
        );
        assert!(validate(json!({"name": "abcd", "kind": "admin"})).is_ok());
        assert!(parse(json!({"name": "abcd", "kind": "root"})).is_err());
    }

    /// The `access` claim is Qdrant's form, so any Qdrant tooling reading the
    /// token sees the same rules.
    #[test]
    fn access_claim_is_qdrant_form() {
        let read = [AccessRule::GlobalAccess(GlobalRule {
            access_type: GlobalAccessType::Read,
        })];
        assert_eq!(access_claim(&read), json!("r"));
        let rules = vec![
            AccessRule::CollectionAccess(CollectionRule {
                collection_name: "a".into(),
                access_type: CollectionAccessType::Read,
                payload: PayloadFilter::new(),
            }),
            AccessRule::CollectionAccess(CollectionRule {
                collection_name: "b".into(),
                access_type: CollectionAccessType::ReadWrite,
                payload: json!({"t": 1}).as_object().unwrap().clone(),
            }),
        ];
        assert_eq!(
            access_claim(&rules),
            json!([{"collection": "a", "access": "r"}, {"collection": "b", "access": "rw"}])
        );
        let (access, restrictions) = auth_access(KeyKind::Granular, &rules);
        assert!(matches!(access, Access::Collections(ref l) if l.len() == 2));
        assert_eq!(restrictions.len(), 1);
        assert_eq!(restrictions[0].0, "b");
    }

    /// The wire form of rules is §15's.
    #[test]
    fn rule_wire_form() {
        let rule: AccessRule = serde_json::from_value(json!(
            {"collection_access": {"collection_name": "a", "access_type": "read-write"}}
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&rule).unwrap(),
            json!({"collection_access": {"collection_name": "a", "access_type": "read-write", "payload": {}}})
        );
    }
}

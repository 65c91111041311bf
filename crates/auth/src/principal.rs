//! Who is calling and what they may do: the access value of spec §2 and the
//! one authorization check of §8.

use std::sync::Arc;

use crate::error::Forbidden;
use crate::resolver::{PayloadFilter, ResolvedKey, ResolvedKind};

/// Global access level (`"r"` / `"m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalAccess {
    /// Read everything (read-only key, JWT `"r"`).
    Read,
    /// Everything (admin key, JWT `"m"` or without `access`, auth off).
    Manage,
}

/// Access mode of one collection entry of a JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessMode {
    /// `"r"`: reads, including snapshot listing/download and cluster info.
    Read,
    /// `"rw"`: reads, point writes and "extras" (snapshots, indexes, named vectors).
    ReadWrite,
    /// `"prw"`: reads and point writes only, no extras.
    PointsReadWrite,
}

/// One `{"collection": …, "access": …}` entry of a JWT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CollectionAccess {
    /// Collection (or alias) name, matched literally against request names.
    pub collection: String,
    /// What the entry allows on that name.
    pub mode: AccessMode,
}

/// The access value of a principal (spec §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    /// Global read or manage.
    Global(GlobalAccess),
    /// Only the listed collections. May be empty: then it grants nothing.
    Collections(Vec<CollectionAccess>),
}

/// A JWT's `value_exists` claim. Auth only parses it; the front end runs the
/// lookup with internal full access on every request (spec §7) and turns a
/// failure into [`crate::AuthError::StatefulValidationFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueExists {
    /// Collection to look in; exempt from the token's own `access` list.
    pub collection: String,
    /// `(json path, value)` pairs that one point must all match exactly.
    /// Values are strings, integers (i64) or booleans; paths follow Qdrant's
    /// JSON path syntax (`a.b[0]`, `a[]`, `"quoted key"`).
    pub matches: Vec<(String, serde_json::Value)>,
}

/// How the principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// Authentication is off; no credential was examined.
    None,
    /// `api_key`, `alt_api_key` or a configured admin key hash.
    ApiKey,
    /// `read_only_api_key`.
    ReadOnlyKey,
    /// A JWT signed with an admin key (spec §7).
    Jwt,
    /// A granular key of the key plane (spec §15): a JWT with a `kid`, whose
    /// rules come from the registry record.
    DatabaseKey,
    /// A legacy admin-kind key of the key plane: global manage, but not root.
    LegacyAdminKey,
}

/// An authenticated caller. Exactly one per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Shared: registry keys hand out the same prepared rules every request.
    access: Arc<Access>,
    credential: CredentialKind,
    subject: Option<String>,
    inference_token: Option<String>,
    value_exists: Option<ValueExists>,
    /// Registry record id of a key-plane key.
    key_id: Option<Arc<str>>,
    /// Registry record name of a key-plane key, for the access audit log.
    key_name: Option<Arc<str>>,
    /// Per collection: the payload restriction of a key-plane rule (never
    /// an empty list or an empty filter).
    payload_restrictions: Option<Arc<[(String, PayloadFilter)]>>,
}

/// Reason of the 403 a payload-restricted rule gets on an operation that
/// cannot be limited to matching points (spec §15).
pub(crate) fn payload_restriction_reason(collection: &str) -> String {
    format!("Payload restriction on collection {collection} forbids this operation")
}

/// What an operation needs: the vocabulary of spec §8 and of
/// `spec/access-table.tsv`, with the collection named in the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Whitelisted: everybody passes.
    None,
    /// Any valid credential; the handler filters results with
    /// [`Principal::can_list_collection`].
    AnyAuth,
    /// Global `r` or `m`.
    GlobalRead,
    /// Global `m`.
    GlobalManage,
    /// Read on the collection: entries `r`, `rw`, `prw`.
    CollRead(String),
    /// Read plus extras: entries `r`, `rw`.
    CollReadExtras(String),
    /// Point writes: entries `rw`, `prw`.
    CollWrite(String),
    /// Writes plus extras: entry `rw` only.
    CollWriteExtras(String),
    /// Collection-level write+manage+extras: no entry can meet it; collection
    /// tokens get `Manage access for this operation is required` (or an
    /// earlier reason: missing entry, points-only, write), global `r` gets
    /// `Global manage access is required`.
    CollManage(String),
}

/// The three flags of §8 an operation can require.
#[derive(Debug, Clone, Copy, Default)]
struct Needs {
    write: bool,
    manage: bool,
    extras: bool,
}

impl Needs {
    const READ: Needs = Needs {
        write: false,
        manage: false,
        extras: false,
    };
    const READ_EXTRAS: Needs = Needs {
        write: false,
        manage: false,
        extras: true,
    };
    const WRITE: Needs = Needs {
        write: true,
        manage: false,
        extras: false,
    };
    const WRITE_EXTRAS: Needs = Needs {
        write: true,
        manage: false,
        extras: true,
    };
    const MANAGE: Needs = Needs {
        write: true,
        manage: true,
        extras: true,
    };
    const GLOBAL_MANAGE: Needs = Needs {
        write: false,
        manage: true,
        extras: false,
    };
}

impl Principal {
    pub(crate) fn new(access: Access, credential: CredentialKind) -> Self {
        Principal {
            access: Arc::new(access),
            credential,
            subject: None,
            inference_token: None,
            value_exists: None,
            key_id: None,
            key_name: None,
            payload_restrictions: None,
        }
    }

    /// A key-plane key, with the rules of its registry record.
    pub(crate) fn from_registry(resolved: ResolvedKey) -> Self {
        let credential = match resolved.kind {
            ResolvedKind::DatabaseKey => CredentialKind::DatabaseKey,
            ResolvedKind::LegacyAdminKey => CredentialKind::LegacyAdminKey,
        };
        let restrictions = resolved.payload_restrictions;
        let payload_restrictions = if restrictions.iter().any(|(_, f)| f.is_empty()) {
            let kept: Arc<[(String, PayloadFilter)]> = restrictions
                .iter()
                .filter(|(_, filter)| !filter.is_empty())
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(kept)
        } else {
            (!restrictions.is_empty()).then_some(restrictions)
        };
        Principal {
            access: resolved.access,
            credential,
            subject: None,
            inference_token: None,
            value_exists: None,
            key_id: Some(resolved.key_id),
            key_name: Some(resolved.key_name),
            payload_restrictions,
        }
    }

    pub(crate) fn from_jwt(
        access: Access,
        subject: Option<String>,
        inference_token: Option<String>,
        value_exists: Option<ValueExists>,
    ) -> Self {
        Principal {
            access: Arc::new(access),
            credential: CredentialKind::Jwt,
            subject,
            inference_token,
            value_exists,
            key_id: None,
            key_name: None,
            payload_restrictions: None,
        }
    }

    /// The access value.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// How the principal authenticated.
    pub fn credential(&self) -> CredentialKind {
        self.credential
    }

    /// The JWT `subject` claim: a free-form caller id for the audit log.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The JWT `sub` claim, passed through as the inference/billing token. It
    /// plays no part in authorization.
    pub fn inference_token(&self) -> Option<&str> {
        self.inference_token.as_deref()
    }

    /// The JWT `value_exists` claim the front end must check on every request.
    pub fn value_exists(&self) -> Option<&ValueExists> {
        self.value_exists.as_ref()
    }

    /// Root credentials: `api_key`, `alt_api_key` or a configured admin key
    /// hash (the bootstrap admin key). Only root may manage keys (spec §15);
    /// JWTs, key-plane keys (even admin-kind ones) and the read-only key are
    /// not root, and neither is anybody while authentication is off.
    pub fn is_root(&self) -> bool {
        self.credential == CredentialKind::ApiKey
    }

    /// The registry record id of a key-plane key ([`CredentialKind::DatabaseKey`]
    /// or [`CredentialKind::LegacyAdminKey`]).
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The registry record name of a key-plane key.
    pub fn key_name(&self) -> Option<&str> {
        self.key_name.as_deref()
    }

    /// The payload restriction on `collection` (literal name): every read must
    /// add each `key == value` pair as a `must` condition, and every write must
    /// only create or touch points that match all pairs (spec §15). `None`:
    /// no restriction on that collection.
    pub fn payload_restriction(&self, collection: &str) -> Option<&PayloadFilter> {
        self.payload_restrictions
            .as_deref()?
            .iter()
            .find(|(name, _)| name == collection)
            .map(|(_, filter)| filter)
    }

    /// Whether any collection rule of this principal carries a payload
    /// restriction (a quick check before looking per collection).
    pub fn has_payload_restrictions(&self) -> bool {
        self.payload_restrictions.is_some()
    }

    /// The restriction on `collection` as Qdrant filter conditions, one
    /// `{"key": k, "match": {"value": v}}` per pair, to append to a read's
    /// `filter.must` (or to test a write's points against). `None`: no
    /// restriction on that collection.
    pub fn payload_conditions(&self, collection: &str) -> Option<Vec<serde_json::Value>> {
        self.payload_restriction(collection).map(|filter| {
            filter
                .iter()
                .map(|(key, value)| serde_json::json!({"key": key, "match": {"value": value}}))
                .collect()
        })
    }

    /// True for global `r` or `m`.
    pub fn is_global(&self) -> bool {
        matches!(*self.access, Access::Global(_))
    }

    /// The one access check (spec §8). Reasons are byte-identical to §6.
    pub fn authorize(&self, requirement: &Requirement) -> Result<(), Forbidden> {
        match requirement {
            Requirement::None | Requirement::AnyAuth => Ok(()),
            Requirement::GlobalRead => self.check_global(Needs::READ),
            Requirement::GlobalManage => self.check_global(Needs::GLOBAL_MANAGE),
            Requirement::CollRead(c) => self.check_collection(c, Needs::READ),
            Requirement::CollReadExtras(c) => self.check_collection(c, Needs::READ_EXTRAS),
            Requirement::CollWrite(c) => self.check_collection(c, Needs::WRITE),
            Requirement::CollWriteExtras(c) => self.check_collection(c, Needs::WRITE_EXTRAS),
            Requirement::CollManage(c) => self.check_collection(c, Needs::MANAGE),
        }
    }

    /// A collection named by `lookup_from` / `with_lookup`: a collection-scoped
    /// token needs an entry for it, in any mode.
    pub fn check_collection_reference(&self, collection: &str) -> Result<(), Forbidden> {
        self.check_collection(collection, Needs::READ)
    }

    /// Whether `name` appears in a filtered listing (collections, aliases,
    /// telemetry, issues): always for global principals, else only when the
    /// token has an entry with exactly that name (§9).
    pub fn can_list_collection(&self, name: &str) -> bool {
        match &*self.access {
            Access::Global(_) => true,
            Access::Collections(list) => list.iter().any(|entry| entry.collection == name),
        }
    }

    /// "Global access": collection-scoped tokens are refused outright.
    fn check_global(&self, needs: Needs) -> Result<(), Forbidden> {
        match &*self.access {
            Access::Global(mode) => check_global_mode(*mode, needs),
            Access::Collections(_) => Err(Forbidden::new("Global access is required")),
        }
    }

    /// "Collection access": the order extras -> write -> manage is Qdrant's, so
    /// only the first failing reason is reported.
    fn check_collection(&self, collection: &str, needs: Needs) -> Result<(), Forbidden> {
        let list = match &*self.access {
            Access::Global(mode) => return check_global_mode(*mode, needs),
            Access::Collections(list) => list,
        };
        // Literal name match, before alias resolution (§9).
        let Some(entry) = list.iter().find(|entry| entry.collection == collection) else {
            return Err(Forbidden::new(format!(
                "Access to collection {collection} is required"
            )));
        };
        if needs.extras && entry.mode == AccessMode::PointsReadWrite {
            return Err(Forbidden::new(format!(
                "Only points access is allowed for collection {collection}"
            )));
        }
        if needs.write && entry.mode == AccessMode::Read {
            return Err(Forbidden::new(format!(
                "Write access to collection {collection} is required"
            )));
        }
        if needs.manage {
            // No collection entry carries manage; Qdrant names no collection here.
            return Err(Forbidden::new(
                "Manage access for this operation is required",
            ));
        }
        // Extras (snapshots, payload indexes, named vectors, cluster info)
        // cannot be limited to matching points: a restricted rule never has them.
        if needs.extras && self.payload_restriction(collection).is_some() {
            return Err(Forbidden::new(payload_restriction_reason(collection)));
        }
        Ok(())
    }
}

/// Global principals ignore the extras flag; `r` fails anything that writes.
fn check_global_mode(mode: GlobalAccess, needs: Needs) -> Result<(), Forbidden> {
    match mode {
        GlobalAccess::Manage => Ok(()),
        GlobalAccess::Read if needs.write || needs.manage => {
            Err(Forbidden::new("Global manage access is required"))
        }
        GlobalAccess::Read => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(entries: &[(&str, AccessMode)]) -> Principal {
        let list = entries
            .iter()
            .map(|(name, mode)| CollectionAccess {
                collection: (*name).to_owned(),
                mode: *mode,
            })
            .collect();
        Principal::new(Access::Collections(list), CredentialKind::Jwt)
    }

    /// Prevents an empty `access: []` from granting anything: it must fail every
    /// collection and global check, and list nothing (§7 notes).
    #[test]
    fn empty_collection_list_grants_nothing() {
        let p = coll(&[]);
        assert!(!p.is_global());
        assert!(!p.can_list_collection("a"));
        assert_eq!(
            p.authorize(&Requirement::CollRead("a".into()))
                .unwrap_err()
                .reason(),
            "Access to collection a is required"
        );
        assert_eq!(
            p.authorize(&Requirement::GlobalRead).unwrap_err().reason(),
            "Global access is required"
        );
        assert!(p.authorize(&Requirement::AnyAuth).is_ok());
    }

    /// Prevents alias resolution or case folding from sneaking into the check:
    /// matching is literal (§9).
    #[test]
    fn collection_match_is_literal() {
        let p = coll(&[("Docs", AccessMode::ReadWrite)]);
        assert!(p.authorize(&Requirement::CollWrite("Docs".into())).is_ok());
        assert!(p.authorize(&Requirement::CollRead("docs".into())).is_err());
        assert!(p.authorize(&Requirement::CollRead("Docs ".into())).is_err());
        assert!(p.can_list_collection("Docs"));
        assert!(!p.can_list_collection("docs"));
    }

    /// Prevents `lookup_from` targets from requiring more than an entry in any
    /// mode, or a global principal from being refused a reference.
    #[test]
    fn collection_reference_needs_any_entry() {
        let p = coll(&[("a", AccessMode::PointsReadWrite), ("b", AccessMode::Read)]);
        assert!(p.check_collection_reference("a").is_ok());
        assert!(p.check_collection_reference("b").is_ok());
        assert_eq!(
            p.check_collection_reference("c").unwrap_err().to_string(),
            "Forbidden: Access to collection c is required"
        );
        let ro = Principal::new(
            Access::Global(GlobalAccess::Read),
            CredentialKind::ReadOnlyKey,
        );
        assert!(ro.check_collection_reference("anything").is_ok());
    }
}

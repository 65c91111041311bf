//! The table of access (`spec/access-table.tsv`), embedded in the binary.
//!
//! The TSV is included with `include_str!` and parsed once, on first use. A
//! test parses it at build-test time and checks that every row maps to a
//! [`RuleKind`], so the `expect` below can never fire in a tested build.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::principal::Requirement;

/// The embedded copy of the shared access table.
const ACCESS_TABLE: &str = include_str!("../spec/access-table.tsv");

/// Column header the parser expects, in order.
const HEADER: [&str; 7] = [
    "interface",
    "method",
    "path_or_rpc",
    "operation",
    "required_access",
    "notes",
    "exposure",
];

/// Reason Qdrant gives a collection-scoped token on a collection-level
/// write+manage+extras check. Its presence in the notes of a `global_manage`
/// row turns the row into [`RuleKind::CollManage`].
const COLLECTION_MANAGE_REASON: &str = "Manage access for this operation is required";

/// The `required_access` of a row, i.e. what an operation needs, before the
/// collection named in the request is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `none`: whitelisted; credentials are not examined.
    None,
    /// `any_auth`: any valid credential; results filtered.
    AnyAuth,
    /// `global_read`.
    GlobalRead,
    /// `global_manage` on a global check: collection tokens get
    /// `Global access is required`.
    GlobalManage,
    /// `global_manage` whose notes say it is checked as collection-level
    /// write+manage+extras: collection tokens get the collection reasons, in
    /// the end `Manage access for this operation is required`.
    CollManage,
    /// `coll_read`.
    CollRead,
    /// `coll_read_extras`.
    CollReadExtras,
    /// `coll_write`.
    CollWrite,
    /// `coll_write_extras`.
    CollWriteExtras,
    /// `internal_p2p`: the peer-to-peer port.
    InternalP2p,
}

impl RuleKind {
    /// The requirement for a request naming `collection`.
    ///
    /// - A collection-level kind without a collection fails closed: it becomes
    ///   the matching global requirement, which is the same for global
    ///   principals and stricter for collection-scoped ones.
    /// - `InternalP2p` becomes [`Requirement::GlobalManage`]: peers always send
    ///   the admin key, so this is invisible to them, and a narrowed token can
    ///   never drive consensus or shard traffic. (Qdrant 1.18.3 applies only
    ///   the per-handler check there; the internal port is authenticated at
    ///   all only with `enforce_internal_auth`, which the front end decides.)
    pub fn requirement(&self, collection: Option<&str>) -> Requirement {
        let named = |make: fn(String) -> Requirement, global: Requirement| match collection {
            Some(c) => make(c.to_owned()),
            None => global,
        };
        match self {
            RuleKind::None => Requirement::None,
            RuleKind::AnyAuth => Requirement::AnyAuth,
            RuleKind::GlobalRead => Requirement::GlobalRead,
            RuleKind::GlobalManage | RuleKind::InternalP2p => Requirement::GlobalManage,
            RuleKind::CollManage => named(Requirement::CollManage, Requirement::GlobalManage),
            RuleKind::CollRead => named(Requirement::CollRead, Requirement::GlobalRead),
            RuleKind::CollReadExtras => named(Requirement::CollReadExtras, Requirement::GlobalRead),
            RuleKind::CollWrite => named(Requirement::CollWrite, Requirement::GlobalManage),
            RuleKind::CollWriteExtras => {
                named(Requirement::CollWriteExtras, Requirement::GlobalManage)
            }
        }
    }
}

/// Which front end a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interface {
    /// REST; `method` is the HTTP verb, `path` the OpenAPI path template.
    Rest,
    /// gRPC; `method` is `RPC`, `path` is `package.Service/Method`.
    Grpc,
}

/// One row of the table of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// REST or gRPC.
    pub interface: Interface,
    /// HTTP verb (`GET`, …) or `RPC`.
    pub method: &'static str,
    /// OpenAPI path template verbatim, or `package.Service/Method`.
    pub path: &'static str,
    /// OpenAPI operationId (or a descriptive name where none exists).
    pub operation: &'static str,
    /// What the operation needs.
    pub kind: RuleKind,
    /// Free-text notes (e.g. which handlers render errors as plain text).
    pub notes: &'static str,
    /// `openapi`, `router-only`, `grpc-public`, `grpc-internal`, …
    pub exposure: &'static str,
}

struct Table {
    rules: Vec<Rule>,
    rest: HashMap<(&'static str, &'static str), usize>,
    grpc: HashMap<&'static str, usize>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    parse_table(ACCESS_TABLE).expect("embedded spec/access-table.tsv is checked by tests")
});

/// Every row of the table, in file order (for coverage tests that walk the
/// OpenAPI document and the proto services).
pub fn rules() -> &'static [Rule] {
    &TABLE.rules
}

/// The rule of a REST route: `method` as an upper-case verb, `path_template`
/// as the OpenAPI template (`/collections/{collection_name}/points`).
///
/// `None` means the route has no entry: treat it as a bug, never as open.
/// The Web UI row is `GET /dashboard`; it covers the whole `/dashboard` prefix
/// of matched routes, which the caller checks.
pub fn rest_rule(method: &str, path_template: &str) -> Option<RuleKind> {
    TABLE
        .rest
        .get(&(method, path_template))
        .map(|&i| TABLE.rules[i].kind)
}

/// The rule of a gRPC method, `package.Service/Method`; a leading `/` (as in
/// the HTTP/2 path) is accepted.
pub fn grpc_rule(full_method: &str) -> Option<RuleKind> {
    let name = full_method.strip_prefix('/').unwrap_or(full_method);
    TABLE.grpc.get(name).map(|&i| TABLE.rules[i].kind)
}

/// The operation name (`upsert_points`) of a gRPC method, for the audit log;
/// a leading `/` is accepted.
pub fn grpc_operation(full_method: &str) -> Option<&'static str> {
    let name = full_method.strip_prefix('/').unwrap_or(full_method);
    TABLE.grpc.get(name).map(|&i| TABLE.rules[i].operation)
}

/// Parses the TSV. Any unknown value, wrong column count or duplicate key is
/// an error naming the line.
fn parse_table(text: &'static str) -> Result<Table, String> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    if header != HEADER {
        return Err(format!("unexpected header {header:?}"));
    }
    let mut table = Table {
        rules: Vec::new(),
        rest: HashMap::new(),
        grpc: HashMap::new(),
    };
    for (index, line) in lines {
        let line_no = index + 1;
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&'static str> = line.split('\t').collect();
        let [interface, method, path, operation, access, notes, exposure] = fields[..] else {
            return Err(format!(
                "line {line_no}: expected 7 columns, got {}",
                fields.len()
            ));
        };
        let interface = match interface {
            "rest" => Interface::Rest,
            "grpc" => Interface::Grpc,
            other => return Err(format!("line {line_no}: unknown interface {other:?}")),
        };
        let kind = parse_kind(access, notes)
            .ok_or_else(|| format!("line {line_no}: unknown required_access {access:?}"))?;
        let position = table.rules.len();
        let duplicate = match interface {
            Interface::Rest => table.rest.insert((method, path), position).is_some(),
            Interface::Grpc => {
                if method != "RPC" {
                    return Err(format!("line {line_no}: gRPC row with method {method:?}"));
                }
                table.grpc.insert(path, position).is_some()
            }
        };
        if duplicate {
            return Err(format!("line {line_no}: duplicate row for {method} {path}"));
        }
        table.rules.push(Rule {
            interface,
            method,
            path,
            operation,
            kind,
            notes,
            exposure,
        });
    }
    Ok(table)
}

fn parse_kind(required_access: &str, notes: &str) -> Option<RuleKind> {
    Some(match required_access {
        "none" => RuleKind::None,
        "any_auth" => RuleKind::AnyAuth,
        "global_read" => RuleKind::GlobalRead,
        "global_manage" if notes.contains(COLLECTION_MANAGE_REASON) => RuleKind::CollManage,
        "global_manage" => RuleKind::GlobalManage,
        "coll_read" => RuleKind::CollRead,
        "coll_read_extras" => RuleKind::CollReadExtras,
        "coll_write" => RuleKind::CollWrite,
        "coll_write_extras" => RuleKind::CollWriteExtras,
        "internal_p2p" => RuleKind::InternalP2p,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prevents a malformed or unknown row from reaching the lazy parse in a
    /// running server (where it would panic on first request).
    #[test]
    fn embedded_table_parses() {
        let table = parse_table(ACCESS_TABLE).unwrap();
        assert_eq!(table.rules.len(), 202);
    }

    /// Prevents silent acceptance of table errors.
    #[test]
    fn parser_rejects_bad_rows() {
        let head = HEADER.join("\t");
        let bad_kind = format!("{head}\nrest\tGET\t/x\tx\tsuper_user\t\topenapi\n");
        assert!(parse_table(Box::leak(bad_kind.into_boxed_str())).is_err());
        let short = format!("{head}\nrest\tGET\t/x\n");
        assert!(parse_table(Box::leak(short.into_boxed_str())).is_err());
        let dup = format!(
            "{head}\nrest\tGET\t/x\tx\tnone\t\topenapi\nrest\tGET\t/x\ty\tnone\t\topenapi\n"
        );
        assert!(parse_table(Box::leak(dup.into_boxed_str())).is_err());
        assert!(parse_table("interface\tmethod\n").is_err());
    }

    /// Prevents a collection-level kind without a collection from failing open.
    #[test]
    fn collection_kinds_without_collection_fail_closed() {
        assert_eq!(
            RuleKind::CollRead.requirement(None),
            Requirement::GlobalRead
        );
        assert_eq!(
            RuleKind::CollReadExtras.requirement(None),
            Requirement::GlobalRead
        );
        assert_eq!(
            RuleKind::CollWrite.requirement(None),
            Requirement::GlobalManage
        );
        assert_eq!(
            RuleKind::CollWriteExtras.requirement(None),
            Requirement::GlobalManage
        );
        assert_eq!(
            RuleKind::CollManage.requirement(None),
            Requirement::GlobalManage
        );
        assert_eq!(
            RuleKind::InternalP2p.requirement(Some("c")),
            Requirement::GlobalManage
        );
        assert_eq!(
            RuleKind::GlobalRead.requirement(Some("c")),
            Requirement::GlobalRead
        );
        assert_eq!(
            RuleKind::CollManage.requirement(Some("c")),
            Requirement::CollManage("c".to_owned())
        );
    }
}

//! `osprey keys ...`: the key plane from the command line, against a running server
//! (spec/auth.md §15). It speaks the REST management API under `/api-keys` with the
//! root key (`api_key`, `alt_api_key` or the bootstrap admin key), taken from
//! `--api-key` or `OSPREY_API_KEY`.
//!
//! ```text
//! osprey keys create --name "ci deploy" [--expires-in-days 90 | --no-expiry]
//!                    [--read-only | --collection NAME[:read|read-write] ...]
//!                    [--payload KEY=VALUE | --payload KEY:=JSON ...] [--admin]
//! osprey keys list
//! osprey keys get ID
//! osprey keys revoke ID-or-postfix
//! osprey keys rotate-signing-key
//! osprey keys signing-keys
//! osprey keys retire-signing-key KID
//! osprey keys settings [--granular-access on|off]
//! osprey keys audit [--since RFC3339] [--limit N]
//! ```
//!
//! `create` prints the key once, with a ready `curl` line. Nothing is stored locally.

use std::io::Write;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use osprey_keys::{
    AccessRule, CollectionAccessType, CollectionRule, CreateKeyRequest, CreatedKey,
    GlobalAccessType, GlobalRule, KeyKind, KeyRecord, KeyStatus, Settings, SigningKeyInfo,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Days a key lives when neither `--expires-in-days` nor `--no-expiry` is given.
const DEFAULT_EXPIRES_IN_DAYS: i64 = 90;

/// `osprey keys`: manage database API keys on a running server.
#[derive(Args)]
pub struct KeysArgs {
    /// REST address of the server.
    #[arg(
        long,
        global = true,
        env = "OSPREY_URL",
        default_value = "http://localhost:6333"
    )]
    pub url: String,

    /// The root key (service.api_key, alt_api_key or the bootstrap admin key).
    #[arg(long, global = true, env = "OSPREY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Print the server's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: KeysCommand,
}

/// Never prints the root key.
impl std::fmt::Debug for KeysArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysArgs")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("json", &self.json)
            .field("command", &self.command)
            .finish()
    }
}

/// What `osprey keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints it once.
    Create(CreateArgs),
    /// List every key, newest first (never the keys themselves).
    List,
    /// Show one key's record.
    Get {
        /// The key's id.
        id: String,
    },
    /// Revoke a key; it is refused from the next request on.
    Revoke {
        /// The key's id, or the last 6 characters of the key (its postfix).
        // A postfix may start with '-': it is a value, never a flag.
        #[arg(allow_hyphen_values = true)]
        id_or_postfix: String,
    },
    /// Make a new signing secret current; keys signed with older secrets keep working
    /// until those are retired.
    RotateSigningKey,
    /// List the signing secrets (ids only).
    SigningKeys,
    /// Delete an old signing secret: every key signed with it stops working.
    RetireSigningKey {
        /// The signing secret's id (`kid`).
        kid: String,
    },
    /// Show or change the settings.
    Settings {
        /// Turn granular access on or off (live, no restart).
        #[arg(long, value_name = "on|off")]
        granular_access: Option<Switch>,
    },
    /// Read the key plane's audit log.
    Audit {
        /// Events at or after this RFC 3339 time (default: the last 24 hours).
        #[arg(long)]
        since: Option<String>,
        /// At most this many events (server default 1000).
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// `on` / `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `osprey keys create`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// 4 to 128 letters, digits, spaces, `_` and `-`.
    #[arg(long)]
    pub name: String,

    /// Days until the key expires.
    #[arg(long, value_name = "DAYS", conflicts_with = "no_expiry")]
    pub expires_in_days: Option<i64>,

    /// The key never expires (the default is 90 days).
    #[arg(long)]
    pub no_expiry: bool,

    /// Global read access to every collection.
    #[arg(long, conflicts_with_all = ["collection", "payload"])]
    pub read_only: bool,

    /// Access to one collection (repeatable, up to 20); the access defaults to `read`.
    #[arg(long, value_name = "NAME[:read|read-write]")]
    pub collection: Vec<String>,

    /// Restrict every `--collection` to points whose payload has KEY equal to VALUE
    /// (repeatable). `KEY=VALUE` gives a string; `KEY:=VALUE` a JSON integer or boolean.
    #[arg(long, value_name = "KEY=VALUE", requires = "collection")]
    pub payload: Vec<String>,

    /// A legacy admin key (opaque, full access). Only while granular access is off.
    #[arg(long, conflicts_with_all = ["read_only", "collection", "payload"])]
    pub admin: bool,

    /// A label recorded as `created_by` instead of the root key's postfix.
    #[arg(long, value_name = "LABEL")]
    pub created_by: Option<String>,
}

/// Runs `osprey keys ...`, printing to stdout.
pub async fn run(args: KeysArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    run_to(args, &mut out).await
}

/// [`run`] on a runtime of its own, for a synchronous `main`.
pub fn run_blocking(args: KeysArgs) -> Result<()> {
    // The process-wide rustls provider, as `serve` installs it: needed once reqwest
    // is built with `rustls-no-provider` (https URLs); harmless otherwise.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(args))
}

async fn run_to(args: KeysArgs, out: &mut dyn Write) -> Result<()> {
    let api = Api::new(&args)?;
    match args.command {
        KeysCommand::Create(create) => {
            let request = serde_json::to_value(create_request(&create)?)?;
            let created: Value = api
                .call(reqwest::Method::POST, "/api-keys", Some(&request))
                .await?;
            if args.json {
                return print_json(out, &created);
            }
            let created: CreatedKey = decode(created)?;
            print_created(out, &created, &args.url)?;
        }
        KeysCommand::List => {
            let records: Value = api.call(reqwest::Method::GET, "/api-keys", None).await?;
            if args.json {
                return print_json(out, &records);
            }
            print_list(out, &decode::<Vec<KeyRecord>>(records)?)?;
        }
        KeysCommand::Get { id } => {
            let record: Value = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api-keys/{}", encode(&id)),
                    None,
                )
                .await?;
            if args.json {
                return print_json(out, &record);
            }
            print_record(out, &decode(record)?)?;
        }
        KeysCommand::Revoke { id_or_postfix } => {
            let id = if looks_like_uuid(&id_or_postfix) {
                id_or_postfix
            } else {
                let records: Vec<KeyRecord> =
                    decode(api.call(reqwest::Method::GET, "/api-keys", None).await?)?;
                find_by_postfix(&records, &id_or_postfix)?
            };
            let record: Value = api
                .call(
                    reqwest::Method::DELETE,
                    &format!("/api-keys/{}", encode(&id)),
                    None,
                )
                .await?;
            if args.json {
                return print_json(out, &record);
            }
            let record: KeyRecord = decode(record)?;
            writeln!(
                out,
                "Revoked API key {} \"{}\" (…{}); it is refused from the next request on.",
                record.id, record.name, record.postfix
            )?;
        }
        KeysCommand::RotateSigningKey => {
            let info: Value = api
                .call(reqwest::Method::POST, "/api-keys/signing-keys/rotate", None)
                .await?;
            if args.json {
                return print_json(out, &info);
            }
            let info: SigningKeyInfo = decode(info)?;
            writeln!(
                out,
                "New signing key {} is current. Keys signed with older signing keys keep \
                 working until you retire them with `osprey keys retire-signing-key KID`.",
                info.kid
            )?;
        }
        KeysCommand::SigningKeys => {
            let keys: Value = api
                .call(reqwest::Method::GET, "/api-keys/signing-keys", None)
                .await?;
            if args.json {
                return print_json(out, &keys);
            }
            writeln!(
                out,
                "{:<10} {:<20} {:<8} ACTIVE KEYS",
                "KID", "CREATED", "CURRENT"
            )?;
            for key in decode::<Vec<SigningKeyInfo>>(keys)? {
                writeln!(
                    out,
                    "{:<10} {:<20} {:<8} {}",
                    key.kid,
                    key.created_at.format("%Y-%m-%d %H:%M:%S"),
                    if key.current { "yes" } else { "" },
                    key.active_keys
                )?;
            }
        }
        KeysCommand::RetireSigningKey { kid } => {
            let info: Value = api
                .call(
                    reqwest::Method::DELETE,
                    &format!("/api-keys/signing-keys/{}", encode(&kid)),
                    None,
                )
                .await?;
            if args.json {
                return print_json(out, &info);
            }
            let info: SigningKeyInfo = decode(info)?;
            writeln!(
                out,
                "Retired signing key {}; {} key(s) signed with it stop working now.",
                info.kid, info.active_keys
            )?;
        }
        KeysCommand::Settings { granular_access } => {
            let settings: Value = match granular_access {
                None => {
                    api.call(reqwest::Method::GET, "/api-keys/settings", None)
                        .await?
                }
                Some(switch) => {
                    let body = serde_json::to_value(Settings {
                        granular_access: switch == Switch::On,
                    })?;
                    api.call(reqwest::Method::PUT, "/api-keys/settings", Some(&body))
                        .await?
                }
            };
            if args.json {
                return print_json(out, &settings);
            }
            let settings: Settings = decode(settings)?;
            writeln!(
                out,
                "granular access: {}",
                if settings.granular_access {
                    "on"
                } else {
                    "off"
                }
            )?;
        }
        KeysCommand::Audit { since, limit } => {
            let mut query = Vec::new();
            if let Some(since) = since {
                query.push(format!("since={}", encode(&since)));
            }
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            let path = if query.is_empty() {
                "/api-keys/audit".to_owned()
            } else {
                format!("/api-keys/audit?{}", query.join("&"))
            };
            let events: Value = api.call(reqwest::Method::GET, &path, None).await?;
            // One JSON object per line, as in the log itself.
            for event in events.as_array().into_iter().flatten() {
                writeln!(out, "{event}")?;
            }
        }
    }
    Ok(())
}

/// The create request the flags describe.
fn create_request(args: &CreateArgs) -> Result<CreateKeyRequest> {
    let expires_in_days = match (args.no_expiry, args.expires_in_days) {
        (true, _) => None,
        (false, Some(days)) => Some(days),
        // A legacy admin key follows the same default: keys should expire.
        (false, None) => Some(DEFAULT_EXPIRES_IN_DAYS),
    };
    let mut payload = serde_json::Map::new();
    for pair in &args.payload {
        let (key, value) = parse_payload(pair)?;
        if payload.insert(key.clone(), value).is_some() {
            bail!("--payload {key} is given twice");
        }
    }
    let mut access_rules = Vec::new();
    if args.read_only {
        access_rules.push(AccessRule::GlobalAccess(GlobalRule {
            access_type: GlobalAccessType::Read,
        }));
    }
    for spec in &args.collection {
        let (name, access_type) = parse_collection(spec);
        access_rules.push(AccessRule::CollectionAccess(CollectionRule {
            collection_name: name.to_owned(),
            access_type,
            payload: payload.clone(),
        }));
    }
    Ok(CreateKeyRequest {
        name: args.name.clone(),
        kind: args.admin.then_some(KeyKind::Admin),
        expires_at: None,
        expires_in_days,
        access_rules,
        created_by: args.created_by.clone(),
    })
}

/// `NAME`, `NAME:read`, `NAME:read-write` (also `r` / `rw`). A suffix that is not an
/// access type belongs to the name.
fn parse_collection(spec: &str) -> (&str, CollectionAccessType) {
    if let Some((name, access)) = spec.rsplit_once(':') {
        match access {
            "read" | "r" => return (name, CollectionAccessType::Read),
            "read-write" | "rw" => return (name, CollectionAccessType::ReadWrite),
            _ => {}
        }
    }
    (spec, CollectionAccessType::Read)
}

/// `KEY=VALUE` (a string) or `KEY:=VALUE` (a JSON integer or boolean).
fn parse_payload(pair: &str) -> Result<(String, Value)> {
    if let Some((key, raw)) = pair.split_once(":=") {
        let value: Value = serde_json::from_str(raw)
            .map_err(|_| anyhow!("--payload {pair}: `{raw}` is not a JSON integer or boolean"))?;
        if !(value.is_boolean() || value.is_i64()) {
            bail!("--payload {pair}: `{raw}` is not a JSON integer or boolean");
        }
        return Ok((key.to_owned(), value));
    }
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), Value::from(value))),
        _ => bail!("--payload {pair}: expected KEY=VALUE or KEY:=JSON"),
    }
}

/// The one record whose postfix is `postfix`, preferring keys that are not revoked.
fn find_by_postfix(records: &[KeyRecord], postfix: &str) -> Result<String> {
    let matching: Vec<&KeyRecord> = records.iter().filter(|r| r.postfix == postfix).collect();
    let live: Vec<&KeyRecord> = matching
        .iter()
        .copied()
        .filter(|r| r.revoked_at.is_none())
        .collect();
    match (matching.as_slice(), live.as_slice()) {
        ([], _) => bail!("no key has the id or postfix `{postfix}` (see `osprey keys list`)"),
        ([one], _) | (_, [one]) => Ok(one.id.to_string()),
        _ => bail!(
            "several keys end in `{postfix}`: {}; revoke by id",
            matching
                .iter()
                .map(|r| r.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn looks_like_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The HTTP side: the root key on every request, Qdrant's envelope unwrapped.
struct Api {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl Api {
    fn new(args: &KeysArgs) -> Result<Api> {
        let api_key = args
            .api_key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "no API key: pass --api-key or set OSPREY_API_KEY to the root key \
                 (service.api_key, or the admin key printed at the first start)"
                )
            })?;
        let base = args.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--url {base}: expected http://HOST:PORT or https://HOST:PORT");
        }
        Ok(Api {
            client: reqwest::Client::new(),
            base,
            api_key,
        })
    }

    /// The `result` of a successful answer; the server's message otherwise.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header("api-key", &self.api_key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}: cannot reach the server"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            let mut json = json.ok_or_else(|| anyhow!("{method} {url}: the answer is not JSON"))?;
            return Ok(json["result"].take());
        }
        // Handler errors come in the envelope; authentication failures as plain text.
        let message = json
            .as_ref()
            .and_then(|j| j["status"]["error"].as_str())
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        bail!("{method} {path}: {status}: {message}")
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).context("unexpected answer from the server")
}

fn print_json(out: &mut dyn Write, value: &Value) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

fn describe_access(record: &KeyRecord) -> String {
    if record.kind == KeyKind::Admin {
        return "full access (legacy admin key)".to_owned();
    }
    record
        .access_rules
        .iter()
        .map(|rule| match rule {
            AccessRule::GlobalAccess(GlobalRule { access_type }) => match access_type {
                GlobalAccessType::Read => "read everything".to_owned(),
                GlobalAccessType::Manage => "manage everything (not root)".to_owned(),
            },
            AccessRule::CollectionAccess(rule) => {
                let access = match rule.access_type {
                    CollectionAccessType::Read => "read",
                    CollectionAccessType::ReadWrite => "read-write",
                };
                if rule.payload.is_empty() {
                    format!("{access} on {}", rule.collection_name)
                } else {
                    let pairs: Vec<String> = rule
                        .payload
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    format!(
                        "{access} on {} where {}",
                        rule.collection_name,
                        pairs.join(", ")
                    )
                }
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn status(record: &KeyRecord) -> &'static str {
    match record.status() {
        KeyStatus::Active => "active",
        KeyStatus::Expired => "expired",
        KeyStatus::Revoked => "revoked",
    }
}

fn print_record(out: &mut dyn Write, record: &KeyRecord) -> Result<()> {
    writeln!(out, "id:           {}", record.id)?;
    writeln!(out, "name:         {}", record.name)?;
    writeln!(out, "kind:         {}", kind_label(record.kind))?;
    writeln!(out, "status:       {}", status(record))?;
    writeln!(out, "access:       {}", describe_access(record))?;
    writeln!(out, "postfix:      …{}", record.postfix)?;
    writeln!(
        out,
        "created:      {} by {}",
        record.created_at.to_rfc3339(),
        record.created_by
    )?;
    writeln!(
        out,
        "expires:      {}",
        record
            .expires_at
            .map_or("never".to_owned(), |t| t.to_rfc3339())
    )?;
    writeln!(
        out,
        "last used:    {}",
        record
            .last_used_at
            .map_or("never".to_owned(), |t| t.to_rfc3339())
    )?;
    if let Some(revoked) = record.revoked_at {
        writeln!(out, "revoked:      {}", revoked.to_rfc3339())?;
    }
    if let Some(kid) = &record.kid {
        writeln!(out, "signing key:  {kid}")?;
    }
    Ok(())
}

fn kind_label(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Granular => "granular",
        KeyKind::Admin => "admin",
    }
}

fn print_list(out: &mut dyn Write, records: &[KeyRecord]) -> Result<()> {
    if records.is_empty() {
        writeln!(
            out,
            "No API keys yet. Create one with `osprey keys create --name NAME`."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<24}  {:<8}  {:<7}  {:<8}  {:<16}  {:<16}  {:<16}  ACCESS",
        "ID", "NAME", "KIND", "POSTFIX", "STATUS", "CREATED", "EXPIRES", "LAST USED"
    )?;
    for record in records {
        let expires = record.expires_at.map_or("never".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M").to_string()
        });
        let last_used = record.last_used_at.map_or("never".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M").to_string()
        });
        let name: String = record.name.chars().take(24).collect();
        writeln!(
            out,
            "{:<36}  {:<24}  {:<8}  {:<7}  {:<8}  {:<16}  {:<16}  {:<16}  {}",
            record.id,
            name,
            kind_label(record.kind),
            record.postfix,
            status(record),
            record.created_at.format("%Y-%m-%d %H:%M").to_string(),
            expires,
            last_used,
            describe_access(record)
        )?;
    }
    Ok(())
}

fn print_created(out: &mut dyn Write, created: &CreatedKey, url: &str) -> Result<()> {
    let record = &created.record;
    writeln!(out, "Created API key \"{}\"", record.name)?;
    writeln!(out, "  id:       {}", record.id)?;
    writeln!(out, "  kind:     {}", kind_label(record.kind))?;
    writeln!(out, "  access:   {}", describe_access(record))?;
    writeln!(
        out,
        "  expires:  {}",
        record
            .expires_at
            .map_or("never".to_owned(), |t| t.to_rfc3339())
    )?;
    writeln!(out)?;
    writeln!(out, "The key is shown only this once. Store it now:")?;
    writeln!(out)?;
    writeln!(out, "    {}", created.key)?;
    writeln!(out)?;
    writeln!(out, "Try it:")?;
    writeln!(
        out,
        "    curl -H 'api-key: {}' {}/collections",
        created.key,
        url.trim_end_matches('/')
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::extract::Request;
    use axum::middleware::Next;
    use axum::response::IntoResponse;
    use clap::Parser;
    use osprey_auth::{AuthConfig, Authenticator};
    use osprey_keys::KeyRegistry;

    use super::*;

    const ROOT: &str = "cli-test-root-key-0123456789abcdef-0123";

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        keys: KeysArgs,
    }

    fn parse(args: &[&str]) -> KeysArgs {
        TestCli::try_parse_from(std::iter::once("keys").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .keys
    }

    // Postfixes are random base64url characters: about one in 64 starts with
    // '-', and `keys revoke -JMJ5E` must still revoke that key.
    #[test]
    fn a_postfix_starting_with_a_dash_is_a_value() {
        let KeysCommand::Revoke { id_or_postfix } = parse(&["revoke", "-JMJ5E"]).command else { panic!() };
        assert_eq!(id_or_postfix, "-JMJ5E");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        TestCli::command().debug_assert();
    }

    /// Prevents the CLI from creating never-expiring or wider keys than asked.
    #[test]
    fn create_flags_become_a_request() {
        let KeysCommand::Create(args) = parse(&["create", "--name", "ci key"]).command else {
            panic!()
        };
        let request = create_request(&args).unwrap();
        assert_eq!(request.expires_in_days, Some(90));
        assert!(request.access_rules.is_empty());
        assert_eq!(request.kind, None);

        let KeysCommand::Create(args) = parse(&[
            "create",
            "--name",
            "tenant",
            "--no-expiry",
            "--collection",
            "docs:read-write",
            "--collection",
            "a:b",
            "--payload",
            "tenant=acme",
            "--payload",
            "level:=3",
        ])
        .command
        else {
            panic!()
        };
        let request = create_request(&args).unwrap();
        assert_eq!(request.expires_in_days, None);
        assert_eq!(
            serde_json::to_value(&request.access_rules).unwrap(),
            serde_json::json!([
                {"collection_access": {"collection_name": "docs", "access_type": "read-write", "payload": {"tenant": "acme", "level": 3}}},
                {"collection_access": {"collection_name": "a:b", "access_type": "read", "payload": {"tenant": "acme", "level": 3}}},
            ])
        );

        for bad in [
            &["create", "--name", "x", "--read-only", "--collection", "a"][..],
            &["create", "--name", "x", "--payload", "a=b"],
            &[
                "create",
                "--name",
                "x",
                "--no-expiry",
                "--expires-in-days",
                "3",
            ],
            &["create", "--name", "x", "--admin", "--read-only"],
        ] {
            assert!(
                TestCli::try_parse_from(std::iter::once("keys").chain(bad.iter().copied()))
                    .is_err(),
                "{bad:?}"
            );
        }
        assert!(parse_payload("level:=1.5").is_err());
        assert!(parse_payload("=x").is_err());
        assert!(parse_payload("novalue").is_err());
        assert_eq!(parse_payload("a=").unwrap(), ("a".into(), Value::from("")));
    }

    /// Prevents the root key from reaching logs through `{:?}` of the command line.
    #[test]
    fn debug_hides_the_api_key() {
        let args = parse(&["--api-key", "top-secret-root", "list"]);
        let text = format!("{args:?}");
        assert!(!text.contains("top-secret"), "{text}");
    }

    #[test]
    fn uuids_and_encoding() {
        assert!(looks_like_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!looks_like_uuid("abc123"));
        assert_eq!(
            encode("2026-01-01T00:00:00+02:00"),
            "2026-01-01T00%3A00%3A00%2B02%3A00"
        );
    }

    /// A server with the management API behind a middleware that does what the REST
    /// front end does: authenticate, put the principal in the extensions.
    async fn serve() -> (SocketAddr, Arc<KeyRegistry>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let registry = KeyRegistry::open(dir.path()).unwrap();
        let auth = Arc::new(
            Authenticator::new(AuthConfig {
                api_key: Some(ROOT.into()),
                ..AuthConfig::default()
            })
            .with_key_resolver(registry.clone()),
        );
        let app = osprey_keys::management_router(registry.clone()).layer(
            axum::middleware::from_fn(move |mut req: Request, next: Next| {
                let auth = auth.clone();
                async move {
                    match auth.authenticate(req.headers()) {
                        Ok(principal) => {
                            req.extensions_mut().insert(Arc::new(principal));
                            next.run(req).await
                        }
                        Err(e) => (
                            axum::http::StatusCode::from_u16(e.http_status()).unwrap(),
                            e.message(),
                        )
                            .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, registry, dir)
    }

    async fn cli(addr: SocketAddr, key: &str, args: &[&str]) -> Result<String> {
        let url = format!("http://{addr}");
        let mut full = vec!["--url", &url, "--api-key", key];
        full.extend_from_slice(args);
        let mut out = Vec::new();
        run_to(parse(&full), &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// The whole flow against a live server: create prints the key once and a curl
    /// line, list shows it, revoke by postfix works, rotation and settings answer, and
    /// a non-root key gets the server's refusal.
    #[tokio::test]
    async fn against_a_running_server() {
        let (addr, registry, _dir) = serve().await;
        let printed = cli(
            addr,
            ROOT,
            &["create", "--name", "cli key", "--collection", "docs"],
        )
        .await
        .unwrap();
        let key = printed
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("eyJhb"))
            .unwrap()
            .to_owned();
        assert!(printed.contains(&format!(
            "curl -H 'api-key: {key}' http://{addr}/collections"
        )));
        assert!(printed.contains("read on docs"), "{printed}");

        let listed = cli(addr, ROOT, &["list"]).await.unwrap();
        assert!(
            listed.contains("cli key") && listed.contains("active"),
            "{listed}"
        );
        assert!(!listed.contains(&key));

        let refused = cli(addr, &key, &["list"]).await.unwrap_err().to_string();
        assert!(
            refused.contains("403") && refused.contains("Root key required"),
            "{refused}"
        );
        let refused = cli(addr, "wrong", &["list"]).await.unwrap_err().to_string();
        assert!(
            refused.contains("401") && refused.contains("Invalid API key or JWT"),
            "{refused}"
        );

        let postfix = &key[key.len() - 6..];
        let revoked = cli(addr, ROOT, &["revoke", postfix]).await.unwrap();
        assert!(revoked.starts_with("Revoked API key"), "{revoked}");
        assert!(registry.list()[0].revoked_at.is_some());
        assert!(cli(addr, ROOT, &["revoke", "zzzzzz"]).await.is_err());

        let rotated = cli(addr, ROOT, &["rotate-signing-key"]).await.unwrap();
        assert!(rotated.starts_with("New signing key"), "{rotated}");
        let settings = cli(addr, ROOT, &["settings", "--granular-access", "off"])
            .await
            .unwrap();
        assert_eq!(settings.trim(), "granular access: off");
        let admin = cli(
            addr,
            ROOT,
            &["--json", "create", "--name", "legacy", "--admin"],
        )
        .await
        .unwrap();
        let admin: Value = serde_json::from_str(&admin).unwrap();
        assert_eq!(admin["kind"], "admin");
        let audit = cli(addr, ROOT, &["audit"]).await.unwrap();
        assert!(
            audit.lines().any(|l| l.contains("\"revoke_key\"")),
            "{audit}"
        );
        let missing = cli(addr, ROOT, &["get", "67e55044-10b1-426f-9247-bb680e5fe0c8"])
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("404"), "{missing}");
    }
}

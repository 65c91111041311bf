//! The command line: `osprey [serve] [FLAGS]`.
//!
//! `serve` is the default subcommand, and Qdrant's flags are accepted both before it and
//! after it, so `osprey --config-path c.yaml` (what Qdrant users type) and
//! `osprey serve --config-path c.yaml` mean the same. Further subcommands (`osprey keys
//! ...` for the key plane) become new [`Command`] variants with their own argument
//! structs; [`Cli::into_command`] is the one place that resolves what to run.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The Qdrant API level Osprey speaks (what `GET /` reports as `version`).
pub const QDRANT_API_VERSION: &str = "1.18.3";

const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (Qdrant API 1.18.3)");

#[derive(Debug, Parser)]
#[command(
    name = "osprey",
    version,
    long_version = LONG_VERSION,
    propagate_version = true,
    about = "Osprey: a Qdrant-compatible vector database with authentication on by default",
    long_about = None,
)]
pub struct Cli {
    /// Flags for the default `serve` subcommand, also accepted without it.
    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Manage database API keys on a running server.
    Keys(crate::keys_cli::KeysArgs),
}

impl Cli {
    /// What to run. Flags given before `serve` and after it are merged; where both give
    /// a value, the one after `serve` wins.
    pub fn into_command(self) -> Command {
        match self.command {
            None => Command::Serve(self.serve),
            Some(Command::Serve(after)) => Command::Serve(self.serve.merge(after)),
            Some(keys @ Command::Keys(_)) => keys,
        }
    }
}

/// Qdrant's command-line flags (`qdrant --help`, v1.18.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Path to a configuration file, read after config/config, config/$RUN_MODE and
    /// config/local and before QDRANT__* environment variables.
    #[arg(long, value_name = "PATH")]
    pub config_path: Option<PathBuf>,

    /// This peer's URI in a cluster. Accepted for compatibility; ignored on a single node.
    #[arg(long, value_name = "URI", env = "QDRANT_URI")]
    pub uri: Option<String>,

    /// URI of a peer to join a cluster through. Accepted for compatibility; ignored on a
    /// single node.
    #[arg(long, value_name = "URI", env = "QDRANT_BOOTSTRAP")]
    pub bootstrap: Option<String>,

    /// Disable anonymous usage reporting. Osprey never reports anything, so this only
    /// sets `telemetry_disabled`.
    #[arg(long)]
    pub disable_telemetry: bool,

    /// Recover collection COLLECTION from an Osprey collection snapshot file (made by
    /// `POST /collections/{c}/snapshots`) after the storage opens and before serving
    /// (repeatable). An existing collection is skipped unless --force-snapshot is given.
    /// Ignored when --storage-snapshot is given, as in Qdrant.
    #[arg(
        long,
        value_name = "PATH:COLLECTION",
        alias = "collection-snapshot",
        value_parser = parse_snapshot
    )]
    pub snapshot: Vec<SnapshotArg>,

    /// Recover every collection and alias of an Osprey full snapshot file (made by
    /// `POST /snapshots`) after the storage opens and before serving. Existing
    /// collections and aliases are skipped unless --force-snapshot is given.
    #[arg(long, value_name = "PATH")]
    pub storage_snapshot: Option<PathBuf>,

    /// Replace existing collections (and repoint existing aliases) when recovering
    /// snapshots at startup.
    #[arg(short = 'f', long)]
    pub force_snapshot: bool,

    /// Drop the cluster consensus state. A single node has none: accepted and ignored.
    #[arg(long)]
    pub reinit: bool,

    /// Qdrant's stack-trace endpoint switch. Accepted and ignored.
    #[arg(long, hide = true)]
    pub stacktrace: bool,
}

/// One `--snapshot PATH:COLLECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotArg {
    pub path: PathBuf,
    pub collection: String,
}

fn parse_snapshot(value: &str) -> Result<SnapshotArg, String> {
    match value.rsplit_once(':') {
        Some((path, collection)) if !path.is_empty() && !collection.is_empty() => Ok(SnapshotArg {
            path: PathBuf::from(path),
            collection: collection.to_owned(),
        }),
        _ => Err(format!("expected PATH:COLLECTION, got `{value}`")),
    }
}

impl ServeArgs {
    fn merge(self, after: ServeArgs) -> ServeArgs {
        ServeArgs {
            config_path: after.config_path.or(self.config_path),
            uri: after.uri.or(self.uri),
            bootstrap: after.bootstrap.or(self.bootstrap),
            disable_telemetry: self.disable_telemetry || after.disable_telemetry,
            snapshot: self.snapshot.into_iter().chain(after.snapshot).collect(),
            storage_snapshot: after.storage_snapshot.or(self.storage_snapshot),
            force_snapshot: self.force_snapshot || after.force_snapshot,
            reinit: self.reinit || after.reinit,
            stacktrace: self.stacktrace || after.stacktrace,
        }
    }

    /// One warning per flag that a single node cannot honour, or that changes nothing
    /// in the combination given. Values are not repeated, since a URI could carry
    /// credentials.
    pub fn ignored_flag_warnings(&self, cluster_enabled: bool) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.uri.is_some() && !cluster_enabled {
            warnings.push(
                "--uri / QDRANT_URI names this peer in a cluster; cluster.enabled is false, \
                 so it is ignored"
                    .to_owned(),
            );
        }
        if self.bootstrap.is_some() {
            warnings.push(
                "--bootstrap / QDRANT_BOOTSTRAP joins an existing cluster; Osprey cannot join \
                 other peers yet, so this node starts as the only peer of its own cluster"
                    .to_owned(),
            );
        }
        if self.storage_snapshot.is_some() && !self.snapshot.is_empty() {
            warnings.push(
                "--snapshot is ignored because --storage-snapshot is given (as in Qdrant): \
                 only the full snapshot is recovered"
                    .to_owned(),
            );
        }
        if self.force_snapshot && self.storage_snapshot.is_none() && self.snapshot.is_empty() {
            warnings.push(
                "--force-snapshot only applies with --snapshot or --storage-snapshot; it \
                 changes nothing here"
                    .to_owned(),
            );
        }
        if self.reinit {
            warnings.push(
                "--reinit drops a cluster's consensus state; a single node has none, so it \
                 changes nothing"
                    .to_owned(),
            );
        }
        if self.stacktrace {
            warnings.push("--stacktrace is accepted for compatibility and ignored".to_owned());
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(std::iter::once("osprey").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        match cli.into_command() {
            Command::Serve(args) => args,
            Command::Keys(_) => panic!("expected serve"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_subcommand() {
        assert_eq!(
            parse(&[]),
            ServeArgs {
                uri: std::env::var("QDRANT_URI").ok(),
                bootstrap: std::env::var("QDRANT_BOOTSTRAP").ok(),
                ..ServeArgs::default()
            }
        );
        assert_eq!(
            parse(&["--config-path", "c.yaml"]).config_path,
            Some("c.yaml".into())
        );
        assert_eq!(
            parse(&["serve", "--config-path", "c.yaml"]).config_path,
            Some("c.yaml".into())
        );
    }

    #[test]
    fn qdrant_flags_are_accepted_before_and_after_serve() {
        let all = [
            "--config-path",
            "c.yaml",
            "--uri",
            "http://a:6335",
            "--bootstrap",
            "http://b:6335",
            "--disable-telemetry",
            "--snapshot",
            "/s/one.snapshot:one",
            "--collection-snapshot",
            "/s/two.snapshot:two",
            "--storage-snapshot",
            "/s/all.snapshot",
            "--force-snapshot",
            "--reinit",
            "--stacktrace",
        ];
        let top = parse(&all);
        let mut after = vec!["serve"];
        after.extend(all);
        assert_eq!(top, parse(&after));
        assert_eq!(top.uri.as_deref(), Some("http://a:6335"));
        assert_eq!(top.bootstrap.as_deref(), Some("http://b:6335"));
        assert!(top.disable_telemetry && top.force_snapshot && top.reinit && top.stacktrace);
        assert_eq!(
            top.snapshot,
            [
                SnapshotArg {
                    path: "/s/one.snapshot".into(),
                    collection: "one".into()
                },
                SnapshotArg {
                    path: "/s/two.snapshot".into(),
                    collection: "two".into()
                },
            ]
        );
        // --uri, --bootstrap, --reinit and --stacktrace change nothing on a single node,
        // and --snapshot gives way to --storage-snapshot; each says so.
        assert_eq!(top.ignored_flag_warnings(false).len(), 5);
    }

    #[test]
    fn flags_after_serve_win_and_lists_add_up() {
        let args = parse(&[
            "--config-path",
            "top.yaml",
            "--snapshot",
            "a:1",
            "serve",
            "--config-path",
            "sub.yaml",
            "--snapshot",
            "b:2",
        ]);
        assert_eq!(args.config_path, Some("sub.yaml".into()));
        assert_eq!(args.snapshot.len(), 2);
    }

    #[test]
    fn snapshot_needs_path_and_collection() {
        assert!(Cli::try_parse_from(["osprey", "--snapshot", "no-colon"]).is_err());
        assert!(Cli::try_parse_from(["osprey", "--snapshot", ":c"]).is_err());
        assert!(Cli::try_parse_from(["osprey", "--snapshot", "p:"]).is_err());
        // The collection is after the last colon, so a path may hold colons.
        assert_eq!(
            parse_snapshot("C:/snaps/x.snapshot:col"),
            Ok(SnapshotArg {
                path: "C:/snaps/x.snapshot".into(),
                collection: "col".into()
            })
        );
    }

    #[test]
    fn version_flag_works_everywhere() {
        for args in [
            &["osprey", "--version"][..],
            &["osprey", "serve", "--version"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::DisplayVersion,
                "{args:?}"
            );
        }
        assert!(LONG_VERSION.contains(QDRANT_API_VERSION));
    }

    #[test]
    fn unknown_flags_are_refused() {
        assert!(Cli::try_parse_from(["osprey", "--no-such-flag"]).is_err());
    }

    #[test]
    fn no_warnings_for_honoured_flags() {
        let args = ServeArgs {
            config_path: Some("c.yaml".into()),
            disable_telemetry: true,
            ..ServeArgs::default()
        };
        assert!(args.ignored_flag_warnings(false).is_empty());
        // Snapshot recovery at startup is honoured: no "ignored" warning.
        for args in [
            &[
                "--snapshot",
                "/s/a.snapshot:a",
                "--snapshot",
                "/s/b.snapshot:b",
                "-f",
            ][..],
            &["--storage-snapshot", "/s/all.snapshot", "--force-snapshot"],
        ] {
            let parsed = parse(args);
            assert!(parsed.force_snapshot, "{args:?}");
            let warnings = ServeArgs {
                uri: None,
                bootstrap: None,
                ..parsed
            }
            .ignored_flag_warnings(false);
            assert!(warnings.is_empty(), "{args:?}: {warnings:?}");
        }
        let lone_force = ServeArgs {
            force_snapshot: true,
            ..ServeArgs::default()
        };
        assert_eq!(lone_force.ignored_flag_warnings(false).len(), 1);
    }
}

//! Four of the Qdrant services (`qdrant.StorageRead` is in
//! `storage_read`). Handlers decode the message (`from_proto`),
//! check access (`auth::authorize`), call the same engine operation as the
//! REST handler on the blocking pool, and encode the answer (`to_proto`).
//! Cluster rpcs answer as the single peer of its own cluster does
//! (`osprey_engine::cluster_ops`).

mod collections;
mod points;
mod qdrant;
mod snapshots;

use std::sync::Arc;
use std::time::Instant;

use osprey_engine::{EngineError, Storage};
use tonic::Status;

pub(crate) use collections::CollectionsService;
pub(crate) use points::PointsService;
pub(crate) use qdrant::QdrantService;
pub(crate) use snapshots::SnapshotsService;

use crate::error::engine_status;

/// What every service shares.
pub(crate) struct Shared {
    pub storage: Arc<Storage>,
    /// Git commit reported by HealthCheck; left out when unknown.
    pub commit: Option<&'static str>,
}

/// Runs an engine call on the blocking pool: engine calls read and write
/// files (and fsync on `wait=true`), which must not stall the async workers.
/// A panic in the engine becomes INTERNAL, never a dropped stream.
/// Runs `f` on the caller's view of `collection`: its payload restriction
/// applied (spec §15), off the async runtime. Point operations go through
/// here, so an rpc cannot reach a collection without the caller's restriction.
pub(crate) async fn on_view<T, F>(
    storage: &Arc<Storage>,
    caller: &osprey_auth::Principal,
    collection: String,
    f: F,
) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce(osprey_engine::CollectionView, &Storage) -> Result<T, EngineError> + Send + 'static,
{
    let restriction = caller.payload_restriction(&collection).cloned();
    let storage = storage.clone();
    engine(move || {
        let view = storage.view(&collection, restriction.as_ref())?;
        f(view, &storage)
    })
    .await
}

pub(crate) async fn engine<T, F>(f: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| engine_status(&e)),
        Err(join) => Err(Status::internal(format!(
            "Service internal error: the operation failed: {join}"
        ))),
    }
}

/// Seconds since the call started, for the `time` member of every answer.
pub(crate) struct Timer(Instant);

impl Timer {
    pub(crate) fn start() -> Self {
        Timer(Instant::now())
    }

    pub(crate) fn secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// Every rpc of the services registered on the public port, as the table of
/// access names them (reflection included). A test checks each has a rule and that no public row
/// of these services is missing.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const RPCS: &[&str] = &[
    "qdrant.Qdrant/HealthCheck",
    "grpc.health.v1.Health/Check",
    "qdrant.Collections/Get",
    "qdrant.Collections/List",
    "qdrant.Collections/Create",
    "qdrant.Collections/Update",
    "qdrant.Collections/Delete",
    "qdrant.Collections/UpdateAliases",
    "qdrant.Collections/ListCollectionAliases",
    "qdrant.Collections/ListAliases",
    "qdrant.Collections/CollectionClusterInfo",
    "qdrant.Collections/CollectionExists",
    "qdrant.Collections/UpdateCollectionClusterSetup",
    "qdrant.Collections/CreateShardKey",
    "qdrant.Collections/DeleteShardKey",
    "qdrant.Collections/ListShardKeys",
    "qdrant.Points/Upsert",
    "qdrant.Points/Delete",
    "qdrant.Points/Get",
    "qdrant.Points/UpdateVectors",
    "qdrant.Points/DeleteVectors",
    "qdrant.Points/SetPayload",
    "qdrant.Points/OverwritePayload",
    "qdrant.Points/DeletePayload",
    "qdrant.Points/ClearPayload",
    "qdrant.Points/CreateFieldIndex",
    "qdrant.Points/DeleteFieldIndex",
    "qdrant.Points/CreateVectorName",
    "qdrant.Points/DeleteVectorName",
    "qdrant.Points/Search",
    "qdrant.Points/SearchBatch",
    "qdrant.Points/SearchGroups",
    "qdrant.Points/Scroll",
    "qdrant.Points/Recommend",
    "qdrant.Points/RecommendBatch",
    "qdrant.Points/RecommendGroups",
    "qdrant.Points/Discover",
    "qdrant.Points/DiscoverBatch",
    "qdrant.Points/Count",
    "qdrant.Points/UpdateBatch",
    "qdrant.Points/Query",
    "qdrant.Points/QueryBatch",
    "qdrant.Points/QueryGroups",
    "qdrant.Points/Facet",
    "qdrant.Points/SearchMatrixPairs",
    "qdrant.Points/SearchMatrixOffsets",
    "qdrant.Snapshots/Create",
    "qdrant.Snapshots/List",
    "qdrant.Snapshots/Delete",
    "qdrant.Snapshots/CreateFull",
    "qdrant.Snapshots/ListFull",
    "qdrant.Snapshots/DeleteFull",
    "qdrant.StorageRead/ListFiles",
    "qdrant.StorageRead/FileExists",
    "qdrant.StorageRead/FileLength",
    "qdrant.StorageRead/ReadBytes",
    "qdrant.StorageRead/ReadBytesStream",
    "qdrant.StorageRead/ReadWhole",
    "qdrant.StorageRead/ReadBatch",
    "qdrant.StorageRead/ReadMulti",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

#[cfg(test)]
mod tests {
    use super::RPCS;

    /// Prevents an rpc without a row in the table of access (it would fail
    /// closed at run time) and a public row of these services left unserved.
    #[test]
    fn every_rpc_has_a_rule_and_every_public_row_is_served() {
        for rpc in RPCS {
            assert!(
                osprey_auth::grpc_rule(rpc).is_some(),
                "no access rule for {rpc}"
            );
        }
        let served = [
            "qdrant.Qdrant/",
            "grpc.health.v1.Health/",
            "qdrant.Collections/",
            "qdrant.Points/",
            "qdrant.Snapshots/",
            "qdrant.StorageRead/",
            "grpc.reflection.v1.ServerReflection/",
            "grpc.reflection.v1alpha.ServerReflection/",
        ];
        for rule in osprey_auth::rules() {
            if rule.interface == osprey_auth::Interface::Grpc
                && rule.exposure.starts_with("grpc-public")
                && served.iter().any(|s| rule.path.starts_with(s))
            {
                assert!(
                    RPCS.contains(&rule.path),
                    "{} is in the table but not served",
                    rule.path
                );
            }
        }
        assert_eq!(RPCS.len(), 62);
        // The StorageRead handlers name their rows from their own list.
        for rpc in crate::storage_read::RPCS {
            assert!(RPCS.contains(&rpc), "{rpc}");
        }
    }
}

//! `qdrant.Snapshots`: the engine has no snapshots yet, so every rpc answers
//! UNIMPLEMENTED, after its access check (as REST answers its snapshot
//! routes after theirs).

use qdrant_client::qdrant::snapshots_server::Snapshots;
use qdrant_client::qdrant::{
    CreateFullSnapshotRequest, CreateSnapshotRequest, CreateSnapshotResponse,
    DeleteFullSnapshotRequest, DeleteSnapshotRequest, DeleteSnapshotResponse,
    ListFullSnapshotsRequest, ListSnapshotsRequest, ListSnapshotsResponse,
};
use tonic::{Request, Response, Status};

use super::not_supported;
use crate::auth::{authorize, caller};

pub(crate) struct SnapshotsService;

/// Access check, then UNIMPLEMENTED.
fn refuse<T, R>(
    request: &Request<T>,
    rpc: &str,
    collection: Option<&str>,
) -> Result<Response<R>, Status> {
    authorize(&*caller(request)?, rpc, collection)?;
    Err(not_supported(rpc))
}

#[tonic::async_trait]
impl Snapshots for SnapshotsService {
    async fn create(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        let name = request.get_ref().collection_name.clone();
        refuse(&request, "qdrant.Snapshots/Create", Some(&name))
    }

    async fn list(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        let name = request.get_ref().collection_name.clone();
        refuse(&request, "qdrant.Snapshots/List", Some(&name))
    }

    async fn delete(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        let name = request.get_ref().collection_name.clone();
        refuse(&request, "qdrant.Snapshots/Delete", Some(&name))
    }

    async fn create_full(
        &self,
        request: Request<CreateFullSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        refuse(&request, "qdrant.Snapshots/CreateFull", None)
    }

    async fn list_full(
        &self,
        request: Request<ListFullSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        refuse(&request, "qdrant.Snapshots/ListFull", None)
    }

    async fn delete_full(
        &self,
        request: Request<DeleteFullSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        refuse(&request, "qdrant.Snapshots/DeleteFull", None)
    }
}

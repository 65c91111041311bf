//! `qdrant.Snapshots`: collection and full-storage snapshots, the same engine
//! calls as REST's snapshot routes, after the access check. Downloads and
//! uploads exist only over REST, as in Qdrant.

use std::sync::Arc;

use qdrant_client::qdrant::snapshots_server::Snapshots;
use qdrant_client::qdrant::{
    CreateFullSnapshotRequest, CreateSnapshotRequest, CreateSnapshotResponse,
    DeleteFullSnapshotRequest, DeleteSnapshotRequest, DeleteSnapshotResponse,
    ListFullSnapshotsRequest, ListSnapshotsRequest, ListSnapshotsResponse, SnapshotDescription,
};
use tonic::{Request, Response, Status};

use super::{Shared, Timer, engine};
use crate::auth::{authorize, caller};

pub(crate) struct SnapshotsService {
    shared: Arc<Shared>,
}

impl SnapshotsService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SnapshotsService { shared }
    }
}

fn description(d: osprey_engine::SnapshotDescription) -> SnapshotDescription {
    let creation_time = d.creation_time.as_deref().and_then(|t| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|dt| {
                let utc = dt.and_utc();
                prost_types::Timestamp {
                    seconds: utc.timestamp(),
                    nanos: utc.timestamp_subsec_nanos() as i32,
                }
            })
    });
    SnapshotDescription {
        name: d.name,
        creation_time,
        size: d.size as i64,
        checksum: d.checksum,
    }
}

#[tonic::async_trait]
impl Snapshots for SnapshotsService {
    async fn create(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        let timer = Timer::start();
        let name = request.get_ref().collection_name.clone();
        authorize(&*caller(&request)?, "qdrant.Snapshots/Create", Some(&name))?;
        let storage = self.shared.storage.clone();
        let created = engine(move || storage.create_snapshot(&name)).await?;
        Ok(Response::new(CreateSnapshotResponse {
            snapshot_description: Some(description(created)),
            time: timer.secs(),
        }))
    }

    async fn list(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        let timer = Timer::start();
        let name = request.get_ref().collection_name.clone();
        authorize(&*caller(&request)?, "qdrant.Snapshots/List", Some(&name))?;
        let storage = self.shared.storage.clone();
        let listed = engine(move || storage.list_snapshots(&name)).await?;
        Ok(Response::new(ListSnapshotsResponse {
            snapshot_descriptions: listed.into_iter().map(description).collect(),
            time: timer.secs(),
        }))
    }

    async fn delete(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        let timer = Timer::start();
        let DeleteSnapshotRequest {
            collection_name,
            snapshot_name,
        } = request.get_ref().clone();
        authorize(
            &*caller(&request)?,
            "qdrant.Snapshots/Delete",
            Some(&collection_name),
        )?;
        let storage = self.shared.storage.clone();
        engine(move || storage.delete_snapshot(&collection_name, &snapshot_name)).await?;
        Ok(Response::new(DeleteSnapshotResponse { time: timer.secs() }))
    }

    async fn create_full(
        &self,
        request: Request<CreateFullSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        let timer = Timer::start();
        authorize(&*caller(&request)?, "qdrant.Snapshots/CreateFull", None)?;
        let storage = self.shared.storage.clone();
        let created = engine(move || storage.create_full_snapshot()).await?;
        Ok(Response::new(CreateSnapshotResponse {
            snapshot_description: Some(description(created)),
            time: timer.secs(),
        }))
    }

    async fn list_full(
        &self,
        request: Request<ListFullSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        let timer = Timer::start();
        authorize(&*caller(&request)?, "qdrant.Snapshots/ListFull", None)?;
        let storage = self.shared.storage.clone();
        let listed = engine(move || storage.list_full_snapshots()).await?;
        Ok(Response::new(ListSnapshotsResponse {
            snapshot_descriptions: listed.into_iter().map(description).collect(),
            time: timer.secs(),
        }))
    }

    async fn delete_full(
        &self,
        request: Request<DeleteFullSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        let timer = Timer::start();
        let snapshot_name = request.get_ref().snapshot_name.clone();
        authorize(&*caller(&request)?, "qdrant.Snapshots/DeleteFull", None)?;
        let storage = self.shared.storage.clone();
        engine(move || storage.delete_full_snapshot(&snapshot_name)).await?;
        Ok(Response::new(DeleteSnapshotResponse { time: timer.secs() }))
    }
}

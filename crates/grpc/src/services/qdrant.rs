//! `qdrant.Qdrant/HealthCheck`: open to everyone (no credential examined),
//! the same answer as REST `GET /`.

use std::sync::Arc;

use qdrant_client::qdrant::qdrant_server::Qdrant;
use qdrant_client::qdrant::{HealthCheckReply, HealthCheckRequest};
use tonic::{Request, Response, Status};

use super::Shared;

/// The title every Qdrant reports.
pub(crate) const TITLE: &str = "qdrant - vector search engine";
/// The Qdrant version this server speaks. Clients compare it with their own
/// and warn unless the major matches and the minor is within one.
pub(crate) const QDRANT_VERSION: &str = "1.18.3";

pub(crate) struct QdrantService {
    shared: Arc<Shared>,
}

impl QdrantService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        QdrantService { shared }
    }
}

#[tonic::async_trait]
impl Qdrant for QdrantService {
    async fn health_check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckReply>, Status> {
        Ok(Response::new(HealthCheckReply {
            title: TITLE.to_string(),
            version: QDRANT_VERSION.to_string(),
            commit: self.shared.commit.map(str::to_string),
        }))
    }
}

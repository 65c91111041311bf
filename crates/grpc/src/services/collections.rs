//! `qdrant.Collections`: collections and aliases.

use std::sync::{Arc, OnceLock};

use qdrant_client::qdrant::collections_server::Collections;
use qdrant_client::qdrant::{
    ChangeAliases, CollectionClusterInfoRequest, CollectionClusterInfoResponse,
    CollectionDescription, CollectionExists, CollectionExistsRequest, CollectionExistsResponse,
    CollectionOperationResponse, CreateCollection, CreateShardKeyRequest, CreateShardKeyResponse,
    DeleteCollection, DeleteShardKeyRequest, DeleteShardKeyResponse, GetCollectionInfoRequest,
    GetCollectionInfoResponse, ListAliasesRequest, ListAliasesResponse,
    ListCollectionAliasesRequest, ListCollectionsRequest, ListCollectionsResponse,
    ListShardKeysRequest, ListShardKeysResponse, LocalShardInfo, ReplicaState, ShardKey, ShardKeyDescription,
    UpdateCollection, shard_key,
    UpdateCollectionClusterSetupRequest, UpdateCollectionClusterSetupResponse,
};
use tonic::{Request, Response, Status};

use super::{Shared, Timer, engine, on_view};
use crate::auth::{authorize, caller};
use crate::conversions::{from_proto, to_proto};

/// Metadata key of this node's peer id. The REST front end keeps the id
/// under the same key, so both report the same peer.
const PEER_ID_KEY: &str = "rest.peer_id";

pub(crate) struct CollectionsService {
    shared: Arc<Shared>,
    peer_id: OnceLock<u64>,
}

impl CollectionsService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        CollectionsService {
            shared,
            peer_id: OnceLock::new(),
        }
    }

    /// This node's peer id: read from the metadata store, or made and stored
    /// as REST does. A store failure leaves an id valid for this process.
    fn peer_id(&self) -> u64 {
        *self.peer_id.get_or_init(|| {
            let storage = &self.shared.storage;
            if let Ok(Some(bytes)) = storage.meta_get(PEER_ID_KEY)
                && let Ok(raw) = <[u8; 8]>::try_from(bytes.as_slice())
            {
                return u64::from_le_bytes(raw);
            }
            // JavaScript-safe (< 2^53), like the ids REST makes.
            let id = ((uuid::Uuid::new_v4().as_u128() as u64) & ((1 << 53) - 1)).max(1);
            if let Err(err) = storage.meta_put(PEER_ID_KEY, &id.to_le_bytes()) {
                tracing::warn!("cannot store the peer id: {err}");
            }
            id
        })
    }
}

fn ok(result: bool, timer: &Timer) -> Response<CollectionOperationResponse> {
    Response::new(CollectionOperationResponse {
        result,
        time: timer.secs(),
    })
}

#[tonic::async_trait]
impl Collections for CollectionsService {
    async fn get(
        &self,
        request: Request<GetCollectionInfoRequest>,
    ) -> Result<Response<GetCollectionInfoResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(&caller, "qdrant.Collections/Get", Some(&name))?;
        let info = on_view(&self.shared.storage, &caller, name, |view, _| view.info()).await?;
        Ok(Response::new(GetCollectionInfoResponse {
            result: Some(to_proto::collection_info(info)),
            time: timer.secs(),
        }))
    }

    /// Real names only, and for a collection-scoped token only those it names.
    async fn list(
        &self,
        request: Request<ListCollectionsRequest>,
    ) -> Result<Response<ListCollectionsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        authorize(&caller, "qdrant.Collections/List", None)?;
        let collections = self
            .shared
            .storage
            .list_collections()
            .into_iter()
            .filter(|name| caller.can_list_collection(name))
            .map(|name| CollectionDescription { name })
            .collect();
        Ok(Response::new(ListCollectionsResponse {
            collections,
            time: timer.secs(),
        }))
    }

    async fn create(
        &self,
        request: Request<CreateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let (name, create) = from_proto::create_collection(request.into_inner())?;
        authorize(&caller, "qdrant.Collections/Create", Some(&name))?;
        let storage = self.shared.storage.clone();
        engine(move || storage.create_collection(&name, create)).await?;
        Ok(ok(true, &timer))
    }

    async fn update(
        &self,
        request: Request<UpdateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let (name, update) = from_proto::update_collection(request.into_inner())?;
        authorize(&caller, "qdrant.Collections/Update", Some(&name))?;
        let storage = self.shared.storage.clone();
        engine(move || storage.update_collection(&name, update)).await?;
        Ok(ok(true, &timer))
    }

    /// `true` if the collection existed.
    async fn delete(
        &self,
        request: Request<DeleteCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(&caller, "qdrant.Collections/Delete", Some(&name))?;
        let storage = self.shared.storage.clone();
        let deleted = engine(move || storage.delete_collection(&name)).await?;
        Ok(ok(deleted, &timer))
    }

    /// All actions or none.
    async fn update_aliases(
        &self,
        request: Request<ChangeAliases>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let change = from_proto::change_aliases(request.into_inner())?;
        authorize(&caller, "qdrant.Collections/UpdateAliases", None)?;
        let storage = self.shared.storage.clone();
        engine(move || storage.update_aliases(change)).await?;
        Ok(ok(true, &timer))
    }

    /// Looked up by the literal name; only aliases the token names.
    async fn list_collection_aliases(
        &self,
        request: Request<ListCollectionAliasesRequest>,
    ) -> Result<Response<ListAliasesResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(
            &caller,
            "qdrant.Collections/ListCollectionAliases",
            Some(&name),
        )?;
        let storage = self.shared.storage.clone();
        let aliases = engine(move || storage.collection_aliases(&name))
            .await?
            .into_iter()
            .filter(|a| caller.can_list_collection(&a.alias_name))
            .collect();
        Ok(Response::new(ListAliasesResponse {
            aliases: to_proto::alias_descriptions(aliases),
            time: timer.secs(),
        }))
    }

    /// For a collection-scoped token, only pairs whose alias and collection
    /// it both names.
    async fn list_aliases(
        &self,
        request: Request<ListAliasesRequest>,
    ) -> Result<Response<ListAliasesResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        authorize(&caller, "qdrant.Collections/ListAliases", None)?;
        let aliases = self
            .shared
            .storage
            .list_aliases()
            .into_iter()
            .filter(|a| {
                caller.can_list_collection(&a.alias_name)
                    && caller.can_list_collection(&a.collection_name)
            })
            .collect();
        Ok(Response::new(ListAliasesResponse {
            aliases: to_proto::alias_descriptions(aliases),
            time: timer.secs(),
        }))
    }

    /// A cluster of one peer holding every collection as one active local
    /// shard, as REST `GET /collections/{c}/cluster` answers.
    async fn collection_cluster_info(
        &self,
        request: Request<CollectionClusterInfoRequest>,
    ) -> Result<Response<CollectionClusterInfoResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(
            &caller,
            "qdrant.Collections/CollectionClusterInfo",
            Some(&name),
        )?;
        // A payload-restricted caller gets one shard with the count of its
        // own view (spec §15); others one shard per shard key.
        let shards = on_view(&self.shared.storage, &caller, name, |view, _| {
            if view.is_restricted() {
                return Ok(vec![(0, None, view.info()?.points_count as usize)]);
            }
            Ok(view.collection().local_shards())
        })
        .await?;
        let local_shards: Vec<LocalShardInfo> = shards
            .into_iter()
            .map(|(shard_id, key, points)| LocalShardInfo {
                shard_id,
                points_count: points as u64,
                state: ReplicaState::Active as i32,
                shard_key: key.map(shard_key_proto),
            })
            .collect();
        Ok(Response::new(CollectionClusterInfoResponse {
            peer_id: self.peer_id(),
            shard_count: local_shards.len() as u64,
            local_shards,
            remote_shards: Vec::new(),
            shard_transfers: Vec::new(),
            resharding_operations: Vec::new(),
            time: timer.secs(),
        }))
    }

    /// The access check has already refused a collection-scoped token that
    /// does not name the collection: no existence oracle.
    async fn collection_exists(
        &self,
        request: Request<CollectionExistsRequest>,
    ) -> Result<Response<CollectionExistsResponse>, Status> {
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(&caller, "qdrant.Collections/CollectionExists", Some(&name))?;
        let exists = self.shared.storage.collection_exists(&name);
        Ok(Response::new(CollectionExistsResponse {
            result: Some(CollectionExists { exists }),
            time: timer.secs(),
        }))
    }

    async fn update_collection_cluster_setup(
        &self,
        request: Request<UpdateCollectionClusterSetupRequest>,
    ) -> Result<Response<UpdateCollectionClusterSetupResponse>, Status> {
        const RPC: &str = "qdrant.Collections/UpdateCollectionClusterSetup";
        use qdrant_client::qdrant::update_collection_cluster_setup_request::Operation;
        use osprey_engine::cluster_ops::{ClusterOperation as Op, DropShardKey, Replica, ShardTransfer};
        let timer = Timer::start();
        let caller = caller(&request)?;
        let request = request.into_inner();
        authorize(&caller, RPC, Some(&request.collection_name))?;
        let transfer = |shard_id, from_peer_id, to_peer_id| ShardTransfer { shard_id, from_peer_id, to_peer_id, method: None };
        let operation = match request.operation {
            None => return Err(Status::invalid_argument("operation is required")),
            Some(Operation::MoveShard(m)) => Op::MoveShard(transfer(m.shard_id, m.from_peer_id, m.to_peer_id)),
            Some(Operation::ReplicateShard(m)) => Op::ReplicateShard(transfer(m.shard_id, m.from_peer_id, m.to_peer_id)),
            Some(Operation::AbortTransfer(m)) => Op::AbortTransfer(transfer(m.shard_id, m.from_peer_id, m.to_peer_id)),
            Some(Operation::RestartTransfer(m)) => Op::RestartTransfer(transfer(m.shard_id, m.from_peer_id, m.to_peer_id)),
            Some(Operation::DropReplica(r)) => Op::DropReplica(Replica { shard_id: r.shard_id, peer_id: r.peer_id }),
            Some(Operation::CreateShardKey(c)) => Op::CreateShardingKey(create_shard_key_body(c)?),
            Some(Operation::DeleteShardKey(d)) => Op::DropShardingKey(DropShardKey { shard_key: shard_key_json(d.shard_key)? }),
            Some(Operation::ReplicatePoints(_)) => Op::ReplicatePoints(serde_json::Value::Null),
        };
        let peer = self.peer_id();
        let result = on_view(&self.shared.storage, &caller, request.collection_name, move |view, _| {
            view.require_unrestricted()?;
            view.collection().cluster_operation(operation, peer)
        })
        .await?;
        Ok(Response::new(UpdateCollectionClusterSetupResponse { result, time: timer.secs() }))
    }

    async fn create_shard_key(
        &self,
        request: Request<CreateShardKeyRequest>,
    ) -> Result<Response<CreateShardKeyResponse>, Status> {
        const RPC: &str = "qdrant.Collections/CreateShardKey";
        let timer = Timer::start();
        let caller = caller(&request)?;
        let request = request.into_inner();
        authorize(&caller, RPC, Some(&request.collection_name))?;
        let create = create_shard_key_body(request.request.unwrap_or_default())?;
        let peer = self.peer_id();
        let result = on_view(&self.shared.storage, &caller, request.collection_name, move |view, _| {
            view.require_unrestricted()?;
            view.collection().create_shard_key(create, peer, true)
        })
        .await?;
        Ok(Response::new(CreateShardKeyResponse { result, time: timer.secs() }))
    }

    async fn delete_shard_key(
        &self,
        request: Request<DeleteShardKeyRequest>,
    ) -> Result<Response<DeleteShardKeyResponse>, Status> {
        const RPC: &str = "qdrant.Collections/DeleteShardKey";
        let timer = Timer::start();
        let caller = caller(&request)?;
        let request = request.into_inner();
        authorize(&caller, RPC, Some(&request.collection_name))?;
        let key = shard_key_json(request.request.unwrap_or_default().shard_key)?;
        let result = on_view(&self.shared.storage, &caller, request.collection_name, move |view, _| {
            view.require_unrestricted()?;
            view.collection().delete_shard_key(&key, true)
        })
        .await?;
        Ok(Response::new(DeleteShardKeyResponse { result, time: timer.secs() }))
    }

    async fn list_shard_keys(
        &self,
        request: Request<ListShardKeysRequest>,
    ) -> Result<Response<ListShardKeysResponse>, Status> {
        const RPC: &str = "qdrant.Collections/ListShardKeys";
        let timer = Timer::start();
        let caller = caller(&request)?;
        let name = request.into_inner().collection_name;
        authorize(&caller, RPC, Some(&name))?;
        let keys = on_view(&self.shared.storage, &caller, name, |view, _| Ok(view.collection().shard_keys())).await?;
        Ok(Response::new(ListShardKeysResponse {
            shard_keys: keys
                .unwrap_or_default()
                .into_iter()
                .map(|k| ShardKeyDescription { key: Some(shard_key_proto(k)) })
                .collect(),
            time: timer.secs(),
        }))
    }
}

/// The engine's form of a `CreateShardKey` message, validated as Qdrant
/// validates it (counts of at least 1, a known replica state).
fn create_shard_key_body(body: qdrant_client::qdrant::CreateShardKey) -> Result<osprey_engine::CreateShardKey, Status> {
    for (field, value) in [("shards_number", body.shards_number), ("replication_factor", body.replication_factor)] {
        if value == Some(0) {
            return Err(Status::invalid_argument(format!(
                "Validation error in body: [{field}: value 0 invalid, must be 1 or larger]"
            )));
        }
    }
    let initial_state = body
        .initial_state
        .map(|s| {
            ReplicaState::try_from(s)
                .map(|s| s.as_str_name().to_string())
                .map_err(|_| Status::invalid_argument(format!("Unknown replica state {s}")))
        })
        .transpose()?;
    Ok(osprey_engine::CreateShardKey {
        shard_key: shard_key_json(body.shard_key)?,
        shards_number: body.shards_number,
        replication_factor: body.replication_factor,
        placement: (!body.placement.is_empty()).then_some(body.placement),
        initial_state,
    })
}

/// A shard key from the wire, in the JSON form the engine reads.
fn shard_key_json(key: Option<ShardKey>) -> Result<serde_json::Value, Status> {
    match key.and_then(|k| k.key) {
        Some(shard_key::Key::Keyword(s)) => Ok(serde_json::Value::from(s)),
        Some(shard_key::Key::Number(n)) => Ok(serde_json::Value::from(n)),
        None => Err(Status::invalid_argument("shard_key is required")),
    }
}

pub(crate) fn shard_key_proto(key: osprey_engine::ShardKey) -> ShardKey {
    let key = match key {
        osprey_engine::ShardKey::Keyword(s) => shard_key::Key::Keyword(s),
        osprey_engine::ShardKey::Number(n) => shard_key::Key::Number(n),
    };
    ShardKey { key: Some(key) }
}

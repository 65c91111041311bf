//! Collection cluster operations (`POST /collections/{c}/cluster`, gRPC
//! `UpdateCollectionClusterSetup`) as a cluster of one peer can answer them.
//!
//! Creating and dropping shard keys work. Every shard has one replica, on
//! this peer, and there is no other peer to move, copy or reshard to, so the
//! transfer operations are refused with the reason, as Qdrant refuses a
//! transfer that names a peer it does not know.

use serde::Deserialize;
use serde_json::Value;

use crate::collection::{Collection, CreateShardKey};
use crate::error::{EngineError, Result};

/// One operation, in Qdrant's externally tagged JSON form
/// (`{"move_shard": {...}}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterOperation {
    MoveShard(ShardTransfer),
    ReplicateShard(ShardTransfer),
    AbortTransfer(ShardTransfer),
    RestartTransfer(ShardTransfer),
    DropReplica(Replica),
    CreateShardingKey(CreateShardKey),
    DropShardingKey(DropShardKey),
    StartResharding(Value),
    AbortResharding(Value),
    ReplicatePoints(Value),
}

/// The shard and peers of a transfer (`method` is accepted and not needed).
#[derive(Debug, Clone, Deserialize)]
pub struct ShardTransfer {
    pub shard_id: u32,
    pub from_peer_id: u64,
    pub to_peer_id: u64,
    #[serde(default)]
    pub method: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Replica {
    pub shard_id: u32,
    pub peer_id: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DropShardKey {
    pub shard_key: Value,
}

impl Collection {
    /// Applies `op` on the cluster whose only peer is `this_peer`.
    pub fn cluster_operation(&self, op: ClusterOperation, this_peer: u64) -> Result<bool> {
        let known_peer = |peer: u64| {
            if peer == this_peer {
                Ok(())
            } else {
                Err(EngineError::BadRequest(format!("Peer {peer} does not exist")))
            }
        };
        let known_shard = |shard: u32| self.shard_key_of_shard(shard).map(|_| ());
        match op {
            ClusterOperation::CreateShardingKey(request) => self.create_shard_key(request, this_peer, true),
            ClusterOperation::DropShardingKey(request) => self.delete_shard_key(&request.shard_key, true),
            ClusterOperation::MoveShard(t) | ClusterOperation::ReplicateShard(t) | ClusterOperation::RestartTransfer(t) => {
                known_shard(t.shard_id)?;
                known_peer(t.from_peer_id)?;
                known_peer(t.to_peer_id)?;
                Err(EngineError::BadRequest(format!(
                    "Shard {} is already on peer {this_peer}: a transfer needs another peer, and this cluster has one",
                    t.shard_id
                )))
            }
            ClusterOperation::AbortTransfer(t) => {
                known_shard(t.shard_id)?;
                Err(EngineError::BadRequest(format!(
                    "There is no transfer of shard {} from peer {} to peer {}",
                    t.shard_id, t.from_peer_id, t.to_peer_id
                )))
            }
            ClusterOperation::DropReplica(r) => {
                known_shard(r.shard_id)?;
                known_peer(r.peer_id)?;
                Err(EngineError::BadRequest(format!(
                    "Shard {} has a single replica, on peer {this_peer}: its last replica cannot be dropped",
                    r.shard_id
                )))
            }
            ClusterOperation::StartResharding(_) | ClusterOperation::AbortResharding(_) => Err(EngineError::BadRequest(
                "Resharding needs a cluster of several peers; this cluster has one".into(),
            )),
            ClusterOperation::ReplicatePoints(_) => Err(EngineError::BadRequest(
                "Replicating points between shard keys is not supported by this server".into(),
            )),
        }
    }
}

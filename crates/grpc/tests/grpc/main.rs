//! The gRPC server in process, driven by the official Rust client
//! (`qdrant-client`): one test binary, one theme per module.

mod access;
mod access_matrix;
mod flow;
mod storage_read;
mod support;

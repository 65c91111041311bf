//! The gRPC server in process, driven by the official Rust client
//! (`qdrant-client`): one test binary, one theme per module.

mod access;
mod flow;
mod support;

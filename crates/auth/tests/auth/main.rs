//! Integration tests of osprey-auth, one binary (one link step on 2 cores).
//! Each module is one theme of spec/auth.md.

mod access_matrix;
mod failures;
mod headers;
mod keys;
mod properties;
mod resolver;
mod support;
mod table;

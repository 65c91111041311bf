//! Integration tests of osprey-keys, one binary (one link step on 2 cores).
//! Each module is one theme of spec/auth.md §15.

mod api;
mod audit;
mod resolve;
mod restart;
mod support;

//! Answers: engine -> protobuf. Infallible: whatever the engine returns has
//! a protobuf form. Also the inverse of the request conversions for the
//! value types (filters, vectors, selectors), which the round-trip property
//! tests use.

pub(crate) mod collections;
pub(crate) mod filter;
pub(crate) mod points;
pub(crate) mod value;
pub(crate) mod vectors;

pub(crate) use collections::{alias_descriptions, collection_info};
pub(crate) use points::{
    count_result, facet_hits, groups_result, matrix_offsets, matrix_pairs, retrieved_point,
    scored_point, update_result,
};
pub(crate) use value::point_id;

//! Requests: protobuf -> engine. Each function names the proto message it
//! reads; errors are `INVALID_ARGUMENT` (see the parent module).

pub(crate) mod collections;
pub(crate) mod filter;
pub(crate) mod groups;
pub(crate) mod points;
pub(crate) mod reads;
pub(crate) mod value;
pub(crate) mod vectors;

pub(crate) use collections::{
    change_aliases, create_collection, create_vector_name, update_collection,
};
pub(crate) use groups::{
    discover, facet, query_groups, recommend_groups, search_groups, search_matrix,
};
pub(crate) use points::{
    Write, clear_payload, create_field_index, delete_payload, delete_points, delete_vectors,
    overwrite_payload, set_payload, update_batch, update_vectors, upsert,
};
pub(crate) use reads::{count, get_points, query, recommend, scroll, search};

/// Builds the Qdrant REST JSON objects that the engine keeps as
/// `serde_json::Value`, leaving out absent (`None`) members.
#[derive(Default)]
pub(crate) struct JsonObject(serde_json::Map<String, serde_json::Value>);

impl JsonObject {
    pub(crate) fn new() -> Self {
        JsonObject::default()
    }

    /// Sets `key` when `value` is present.
    pub(crate) fn opt<T: Into<serde_json::Value>>(mut self, key: &str, value: Option<T>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }

    /// Sets `key`.
    pub(crate) fn set(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    pub(crate) fn build(self) -> serde_json::Value {
        serde_json::Value::Object(self.0)
    }
}

/// A proto enum field (`i32` on the wire) as its generated enum.
pub(crate) fn proto_enum<E: TryFrom<i32>>(
    value: i32,
    what: &str,
) -> crate::conversions::Decoded<E> {
    E::try_from(value).map_err(|_| crate::conversions::invalid(format!("Unknown {what}: {value}")))
}

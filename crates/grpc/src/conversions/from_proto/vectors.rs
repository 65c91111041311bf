//! Vectors: the `Vector` message (its `vector` oneof, and the legacy
//! `data` / `indices` / `vectors_count` fields that older clients still
//! send), `Vectors` of a point, and `VectorInput` of queries.

use std::collections::BTreeMap;

use osprey_engine::requests::VectorInput;
use osprey_engine::types::{InferenceInput, SparseVector, Vector, VectorStruct};
use qdrant_client::qdrant::{
    self as proto, vector::Vector as VectorOneOf, vector_input::Variant, vectors::VectorsOptions,
};
use serde_json::{Map, Value};

use super::value::{payload, point_id, value};
use crate::conversions::{Decoded, invalid};

/// Why an unnamed document, image or object cannot be stored.
const INFERENCE_UNSUPPORTED: &str = "Documents, images and objects need server-side inference, \
     which this server does not provide; send vectors";

/// One vector of a point or of a recommend example. The `vector` oneof wins;
/// without it the legacy fields are read: `indices` makes a sparse vector,
/// `vectors_count` splits `data` into a multivector, else `data` is dense.
#[allow(deprecated)]
pub(crate) fn vector(vector: proto::Vector) -> Decoded<Vector> {
    let proto::Vector {
        data,
        indices,
        vectors_count,
        vector,
    } = vector;
    if let Some(vector) = vector {
        return Ok(match vector {
            VectorOneOf::Dense(dense) => Vector::Dense(dense.data),
            VectorOneOf::Sparse(sparse) => Vector::Sparse(sparse_vector(sparse)),
            VectorOneOf::MultiDense(multi) => Vector::Multi(multi_dense(multi)),
            VectorOneOf::Document(doc) => Vector::Inference(document(doc)?),
            VectorOneOf::Image(image) => Vector::Inference(self::image(image)?),
            VectorOneOf::Object(object) => Vector::Inference(inference_object(object)?),
        });
    }
    if let Some(indices) = indices {
        return Ok(Vector::Sparse(SparseVector {
            indices: indices.data,
            values: data,
        }));
    }
    match vectors_count {
        Some(count) => Ok(Vector::Multi(split_multi(data, count)?)),
        None => Ok(Vector::Dense(data)),
    }
}

/// All vectors of a point. An unnamed vector must be dense or a multivector:
/// sparse vectors always have a name.
pub(crate) fn vector_struct(vectors: proto::Vectors) -> Decoded<VectorStruct> {
    match vectors.vectors_options {
        Some(VectorsOptions::Vector(v)) => match vector(v)? {
            Vector::Dense(d) => Ok(VectorStruct::Single(d)),
            Vector::Multi(m) => Ok(VectorStruct::Multi(m)),
            Vector::Sparse(_) => Err(invalid("Sparse vector must be named")),
            Vector::Inference(_) => Err(invalid(INFERENCE_UNSUPPORTED)),
        },
        Some(VectorsOptions::Vectors(named)) => {
            Ok(VectorStruct::Named(named_vectors(named.vectors)?))
        }
        None => Err(invalid("No Vector Provided")),
    }
}

/// A map of named vectors, by name.
pub(crate) fn named_vectors(
    vectors: std::collections::HashMap<String, proto::Vector>,
) -> Decoded<BTreeMap<String, Vector>> {
    vectors
        .into_iter()
        .map(|(name, v)| Ok((name, vector(v)?)))
        .collect()
}

/// A vector given in a query: raw values or the id of a stored point.
pub(crate) fn vector_input(input: proto::VectorInput) -> Decoded<VectorInput> {
    Ok(match input.variant {
        Some(Variant::Id(id)) => VectorInput::Id(point_id(id)?),
        Some(Variant::Dense(dense)) => VectorInput::Dense(dense.data),
        Some(Variant::Sparse(sparse)) => VectorInput::Sparse(sparse_vector(sparse)),
        Some(Variant::MultiDense(multi)) => VectorInput::Multi(multi_dense(multi)),
        Some(Variant::Document(doc)) => VectorInput::Inference(document(doc)?),
        Some(Variant::Image(image)) => VectorInput::Inference(self::image(image)?),
        Some(Variant::Object(object)) => VectorInput::Inference(inference_object(object)?),
        None => return Err(invalid("Malformed VectorInput type: no variant is set")),
    })
}

/// A recommend example given as a vector (`positive_vectors` and friends).
pub(crate) fn vector_as_input(v: proto::Vector) -> Decoded<VectorInput> {
    Ok(match vector(v)? {
        Vector::Dense(d) => VectorInput::Dense(d),
        Vector::Sparse(s) => VectorInput::Sparse(s),
        Vector::Multi(m) => VectorInput::Multi(m),
        Vector::Inference(obj) => VectorInput::Inference(obj),
    })
}

pub(crate) fn sparse_vector(sparse: proto::SparseVector) -> SparseVector {
    SparseVector {
        indices: sparse.indices,
        values: sparse.values,
    }
}

fn multi_dense(multi: proto::MultiDenseVector) -> Vec<Vec<f32>> {
    multi.vectors.into_iter().map(|v| v.data).collect()
}

/// The legacy flat form of a multivector: `data` holds `count` rows of equal length.
fn split_multi(data: Vec<f32>, count: u32) -> Decoded<Vec<Vec<f32>>> {
    let count = count as usize;
    if count == 0 || data.is_empty() || !data.len().is_multiple_of(count) {
        return Err(invalid(format!(
            "Unable to convert to multi-dense vector: Data length is not divisible by vectors count. \
             Data length: {}, vectors count: {count}",
            data.len()
        )));
    }
    let dim = data.len() / count;
    Ok(data.chunks(dim).map(<[f32]>::to_vec).collect())
}

/// An inference input as REST writes it: `{"text" | "image" | "object": ..,
/// "model": .., "options": {..}}`. The engine refuses it with its own message.
fn inference(
    key: &str,
    input: Value,
    model: String,
    options: std::collections::HashMap<String, proto::Value>,
) -> Decoded<InferenceInput> {
    let mut rest = Map::new();
    rest.insert(key.to_string(), input);
    if !options.is_empty() {
        rest.insert("options".into(), Value::Object(payload(options)?));
    }
    Ok(InferenceInput { model, rest })
}

fn document(doc: proto::Document) -> Decoded<InferenceInput> {
    inference("text", Value::String(doc.text), doc.model, doc.options)
}

fn image(image: proto::Image) -> Decoded<InferenceInput> {
    let input = image.image.map(value).transpose()?.unwrap_or(Value::Null);
    inference("image", input, image.model, image.options)
}

fn inference_object(object: proto::InferenceObject) -> Decoded<InferenceInput> {
    let input = object.object.map(value).transpose()?.unwrap_or(Value::Null);
    inference("object", input, object.model, object.options)
}

//! Vectors. Answers use the legacy `data` / `indices` / `vectors_count`
//! form of `VectorOutput`, as Qdrant 1.18 sends it: every client version
//! reads it (newer ones prefer the `vector` oneof when present, else fall
//! back to these fields).

use osprey_engine::requests::{VectorInput, VectorOutput};
use osprey_engine::types::{InferenceInput, SparseVector, Vector, VectorStruct};
use qdrant_client::qdrant::{
    self as proto, vector::Vector as VectorOneOf, vector_input::Variant, vectors::VectorsOptions,
    vectors_output::VectorsOptions as OutputOptions,
};

use super::value::{point_id, value};

/// One vector of an answer.
#[allow(deprecated)]
pub(crate) fn vector_output(vector: Vector) -> proto::VectorOutput {
    let (data, indices, vectors_count) = match vector {
        Vector::Dense(data) => (data, None, None),
        Vector::Sparse(SparseVector { indices, values }) => {
            (values, Some(proto::SparseIndices { data: indices }), None)
        }
        Vector::Multi(rows) => {
            let count = rows.len() as u32;
            (rows.into_iter().flatten().collect(), None, Some(count))
        }
        // Stored vectors are never inference inputs; there is nothing to send.
        Vector::Inference(_) => (Vec::new(), None, None),
    };
    proto::VectorOutput {
        data,
        indices,
        vectors_count,
        vector: None,
    }
}

/// The vectors of a point in an answer.
pub(crate) fn vectors_output(output: VectorOutput) -> proto::VectorsOutput {
    let options = match output {
        VectorOutput::Single(v) => OutputOptions::Vector(vector_output(v)),
        VectorOutput::Named(map) => OutputOptions::Vectors(proto::NamedVectorsOutput {
            vectors: map
                .into_iter()
                .map(|(name, v)| (name, vector_output(v)))
                .collect(),
        }),
    };
    proto::VectorsOutput {
        vectors_options: Some(options),
    }
}

#[cfg_attr(not(test), allow(dead_code))]
fn dense(data: Vec<f32>) -> proto::DenseVector {
    proto::DenseVector { data }
}

#[cfg_attr(not(test), allow(dead_code))]
fn multi(rows: Vec<Vec<f32>>) -> proto::MultiDenseVector {
    proto::MultiDenseVector {
        vectors: rows.into_iter().map(dense).collect(),
    }
}

#[cfg_attr(not(test), allow(dead_code))]
fn sparse(s: SparseVector) -> proto::SparseVector {
    proto::SparseVector {
        values: s.values,
        indices: s.indices,
    }
}

#[cfg_attr(not(test), allow(dead_code))]
fn inference_object(input: InferenceInput) -> proto::InferenceObject {
    proto::InferenceObject {
        object: Some(value(serde_json::Value::Object(input.rest))),
        model: input.model,
        options: Default::default(),
    }
}

/// A vector in the request form (the `vector` oneof); the inverse of
/// `from_proto::vector` for dense, sparse and multi vectors.
#[cfg_attr(not(test), allow(dead_code))]
#[allow(deprecated)]
pub(crate) fn vector(vector: Vector) -> proto::Vector {
    let oneof = match vector {
        Vector::Dense(d) => VectorOneOf::Dense(dense(d)),
        Vector::Sparse(s) => VectorOneOf::Sparse(sparse(s)),
        Vector::Multi(m) => VectorOneOf::MultiDense(multi(m)),
        Vector::Inference(input) => VectorOneOf::Object(inference_object(input)),
    };
    proto::Vector {
        data: Vec::new(),
        indices: None,
        vectors_count: None,
        vector: Some(oneof),
    }
}

/// The vectors of a point in the request form.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn vector_struct(vectors: VectorStruct) -> proto::Vectors {
    let options = match vectors {
        VectorStruct::Single(d) => VectorsOptions::Vector(vector(Vector::Dense(d))),
        VectorStruct::Multi(m) => VectorsOptions::Vector(vector(Vector::Multi(m))),
        VectorStruct::Named(map) => VectorsOptions::Vectors(proto::NamedVectors {
            vectors: map.into_iter().map(|(name, v)| (name, vector(v))).collect(),
        }),
    };
    proto::Vectors {
        vectors_options: Some(options),
    }
}

/// A query vector input.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn vector_input(input: VectorInput) -> proto::VectorInput {
    let variant = match input {
        VectorInput::Dense(d) => Variant::Dense(dense(d)),
        VectorInput::Sparse(s) => Variant::Sparse(sparse(s)),
        VectorInput::Multi(m) => Variant::MultiDense(multi(m)),
        VectorInput::Id(id) => Variant::Id(point_id(id)),
        VectorInput::Inference(input) => Variant::Object(inference_object(input)),
    };
    proto::VectorInput {
        variant: Some(variant),
    }
}

//! Facet counts and the distance matrix: reads that summarise many points.

use std::collections::HashMap;

use serde_json::Value;

use crate::collection::{Collection, validate_filter};
use crate::config::Distance;
use crate::error::{EngineError, Result};
use crate::payload_path::{self, JsonPath};
use crate::requests::{
    FacetRequest, FacetResponse, FacetValueHit, SearchMatrixOffsetsResponse, SearchMatrixPair,
    SearchMatrixPairsResponse, SearchMatrixRequest,
};
use crate::segment::VectorColumn;
use crate::types::{DEFAULT_VECTOR, PointId};

/// One row of the matrix: a sampled point and its nearest sampled neighbours.
struct MatrixRow {
    id: PointId,
    neighbours: Vec<(usize, f32)>,
}

impl Collection {
    /// Counts, per distinct value at `key`, the points (matching the filter) that have it.
    pub fn facet(&self, request: FacetRequest) -> Result<FacetResponse> {
        validate_filter(request.filter.as_ref())?;
        let path: JsonPath =
            request.key.parse().map_err(|e| EngineError::BadInput(format!("Invalid facet key `{}`: {e}", request.key)))?;
        let limit = request.limit.unwrap_or(10);
        let store = self.read_state();
        // Faceting reads a value index, as in Qdrant; without one there is nothing to count from.
        {
            use crate::operations::PayloadSchemaType as T;
            let indexed = store.payload_index.get(&request.key).and_then(|s| s.schema_type()).is_some_and(|t| {
                matches!(t, T::Keyword | T::Integer | T::Bool | T::Uuid)
            });
            if !indexed {
                return Err(EngineError::BadRequest(format!(
                    "No appropriate index for faceting: `{}`",
                    request.key
                )));
            }
        }
        let mut counts: HashMap<String, (Value, u64)> = HashMap::new();
        for offset in store.filter_scan(request.filter.as_ref()) {
            if request.filter.as_ref().is_some_and(|f| !f.matches(&store.view(offset))) {
                continue;
            }
            let mut seen = std::collections::HashSet::new();
            for value in payload_path::values(&store.payloads[offset], &path) {
                let countable = matches!(value, Value::String(_) | Value::Bool(_))
                    || matches!(value, Value::Number(n) if n.is_i64() || n.is_u64());
                if countable && seen.insert(value.to_string()) {
                    counts.entry(value.to_string()).or_insert_with(|| (value.clone(), 0)).1 += 1;
                }
            }
        }
        let mut hits: Vec<FacetValueHit> =
            counts.into_values().map(|(value, count)| FacetValueHit { value, count }).collect();
        hits.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| facet_order(&a.value, &b.value)));
        hits.truncate(limit);
        Ok(FacetResponse { hits })
    }

    pub fn search_matrix_pairs(&self, request: SearchMatrixRequest) -> Result<SearchMatrixPairsResponse> {
        let rows = self.matrix(request)?;
        let pairs = rows
            .iter()
            .flat_map(|row| {
                row.neighbours.iter().map(|&(j, score)| SearchMatrixPair { a: row.id, b: rows[j].id, score })
            })
            .collect();
        Ok(SearchMatrixPairsResponse { pairs })
    }

    pub fn search_matrix_offsets(&self, request: SearchMatrixRequest) -> Result<SearchMatrixOffsetsResponse> {
        let rows = self.matrix(request)?;
        let mut out = SearchMatrixOffsetsResponse {
            offsets_row: Vec::new(),
            offsets_col: Vec::new(),
            scores: Vec::new(),
            ids: rows.iter().map(|r| r.id).collect(),
        };
        for (i, row) in rows.iter().enumerate() {
            for &(j, score) in &row.neighbours {
                out.offsets_row.push(i as u64);
                out.offsets_col.push(j as u64);
                out.scores.push(score);
            }
        }
        Ok(out)
    }

    /// Samples up to `sample` points with the vector and finds, for each, its
    /// `limit` nearest among the sample.
    fn matrix(&self, request: SearchMatrixRequest) -> Result<Vec<MatrixRow>> {
        validate_filter(request.filter.as_ref())?;
        let sample = request.sample.unwrap_or(10);
        let limit = request.limit.unwrap_or(3);
        if sample == 0 || limit == 0 {
            return Err(EngineError::BadInput("sample and limit must be at least 1".into()));
        }
        let using = request.using.unwrap_or_else(|| DEFAULT_VECTOR.to_string());
        let config = self.config_ref().clone();
        let params = config
            .params
            .vectors
            .get(&using)
            .ok_or_else(|| EngineError::BadInput(format!("Not existing vector name error: {using}")))?;
        let distance: Distance = params.distance;
        let store = self.read_state();
        let Some(VectorColumn::Dense(column)) = store.columns.get(&using) else {
            return Err(EngineError::BadInput(format!("The distance matrix needs a dense vector; `{using}` is not")));
        };
        let mut offsets: Vec<usize> = store
            .filter_scan(request.filter.as_ref())
            .filter(|&o| column.present[o])
            .filter(|&o| request.filter.as_ref().is_none_or(|f| f.matches(&store.view(o))))
            .collect();
        // A stable sample: the points with the smallest ids.
        offsets.sort_by_key(|&o| store.ids[o]);
        offsets.truncate(sample);
        let rows = offsets
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let va = column.get(a).expect("present");
                let mut scored: Vec<(usize, f32)> = offsets
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .filter_map(|(j, &b)| Some((j, column.score(distance, &va, b)?)))
                    .collect();
                scored.sort_by(|x, y| distance.cmp_scores(x.1, y.1));
                scored.truncate(limit);
                MatrixRow { id: store.ids[a], neighbours: scored }
            })
            .collect();
        Ok(rows)
    }
}

/// Facet values of equal count: by type, then ascending.
fn facet_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

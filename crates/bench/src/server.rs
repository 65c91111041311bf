//! Talking to the server under test over gRPC (the `qdrant-client` crate) or REST.
//!
//! A [`Conn`] is one client with its own connection: the uploaders and the query
//! clients each get one, so `--clients 4` means four connections, as four application
//! processes would open, not four streams multiplexed on one HTTP/2 connection.

use std::ops::Range;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    self as pb, Condition, CreateCollection, CreateFieldIndexCollection, DeleteCollection,
    FieldType, Filter, GetCollectionInfoRequest, HnswConfigDiff, PointStruct, QueryPoints,
    SearchParams, SearchPoints, UpsertPoints, VectorParams, VectorsConfig, vectors_config,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dataset::{Dataset, Distance};

/// The payload field that carries a point's group, and is filtered on.
pub const GROUP_FIELD: &str = "group";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Grpc,
    Rest,
}

/// The quantization the bench collection is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    None,
    /// Scalar int8, codes in RAM (`always_ram: true`).
    Scalar,
    /// Binary, one bit per dimension, codes in RAM.
    Binary,
    /// TurboQuant, 4 bits per coordinate, codes in RAM.
    Turbo,
}

/// Which search endpoint queries go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// The Query API: `POST /points/query`, gRPC `Points/Query`.
    Query,
    /// The legacy search API: `POST /points/search`, gRPC `Points/Search`.
    Search,
}

/// Where the server is and how to authenticate.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub rest_url: String,
    pub grpc_url: String,
    /// Sent as `api-key` (REST header, gRPC metadata); an API key or a JWT.
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl Endpoint {
    pub fn connect(&self, transport: Transport, collection: &str) -> Result<Conn> {
        let kind = match transport {
            Transport::Grpc => Kind::Grpc(
                Qdrant::from_url(&self.grpc_url)
                    .api_key(self.api_key.clone())
                    .timeout(self.timeout)
                    .connect_timeout(Duration::from_secs(10))
                    // The bench measures any version; it needs no warning about it.
                    .skip_compatibility_check()
                    .build()
                    .with_context(|| format!("gRPC client for {}", self.grpc_url))?,
            ),
            Transport::Rest => Kind::Rest(self.rest_client()?),
        };
        Ok(Conn {
            kind,
            collection: collection.to_string(),
        })
    }

    fn rest_client(&self) -> Result<Rest> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &self.api_key {
            let mut value = reqwest::header::HeaderValue::from_str(key)
                .context("the API key is not a valid header value")?;
            value.set_sensitive(true);
            headers.insert("api-key", value);
        }
        let http = reqwest::Client::builder()
            .no_proxy()
            .default_headers(headers)
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Rest {
            http,
            base: self.rest_url.trim_end_matches('/').to_string(),
        })
    }

    /// `GET /` over REST (title, version, commit), or the gRPC health check when REST
    /// cannot be reached.
    pub async fn server_version(&self) -> Result<Value> {
        let rest = self.rest_client()?;
        match rest.call(reqwest::Method::GET, "/", None).await {
            Ok(v) => Ok(v),
            Err(rest_err) => {
                let client = self.connect(Transport::Grpc, "")?;
                let Kind::Grpc(grpc) = &client.kind else {
                    unreachable!()
                };
                let reply = grpc.health_check().await.map_err(|grpc_err| {
                    anyhow!(
                        "GET / failed ({rest_err:#}) and so did the gRPC health check ({grpc_err})"
                    )
                })?;
                Ok(json!({"title": reply.title, "version": reply.version, "commit": reply.commit}))
            }
        }
    }
}

struct Rest {
    http: reqwest::Client,
    base: String,
}

impl Rest {
    /// One request; the JSON answer, or an error with the status and the body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let text: String = text.chars().take(500).collect();
            bail!("{method} {url} answered {status}: {text}");
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{method} {url}: answer is not JSON"))
    }
}

enum Kind {
    Grpc(Qdrant),
    Rest(Rest),
}

pub struct Conn {
    kind: Kind,
    collection: String,
}

/// What the bench creates.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionSpec {
    pub dim: usize,
    pub distance: Distance,
    pub m: u64,
    pub ef_construct: u64,
    pub on_disk: bool,
    pub quantization: Quantization,
}

impl CollectionSpec {
    fn quantization_json(&self) -> Value {
        match self.quantization {
            Quantization::None => Value::Null,
            Quantization::Scalar => json!({"scalar": {"type": "int8", "always_ram": true}}),
            Quantization::Binary => json!({"binary": {"always_ram": true}}),
            Quantization::Turbo => json!({"turbo": {"bits": "bits4", "always_ram": true}}),
        }
    }

    // `always_ram`, not 1.19's `memory`: Qdrant 1.18 knows only the former.
    #[allow(deprecated)]
    fn quantization_grpc(&self) -> Option<pb::QuantizationConfig> {
        use pb::quantization_config::Quantization as Q;
        let q = match self.quantization {
            Quantization::None => return None,
            Quantization::Scalar => Q::Scalar(pb::ScalarQuantization {
                r#type: pb::QuantizationType::Int8 as i32,
                always_ram: Some(true),
                ..Default::default()
            }),
            Quantization::Binary => Q::Binary(pb::BinaryQuantization { always_ram: Some(true), ..Default::default() }),
            Quantization::Turbo => Q::Turboquant(pb::TurboQuantization {
                always_ram: Some(true),
                bits: Some(pb::TurboQuantBitSize::Bits4 as i32),
                ..Default::default()
            }),
        };
        Some(pb::QuantizationConfig { quantization: Some(q) })
    }
}

/// The collection's state as `GET /collections/{name}` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionState {
    /// `green`, `yellow`, `grey` or `red`.
    pub status: String,
    /// `None` when the optimizers are fine, else their error.
    pub optimizer_error: Option<String>,
    pub points_count: Option<u64>,
    pub indexed_vectors_count: Option<u64>,
    pub segments_count: Option<u64>,
}

impl CollectionState {
    pub fn is_green(&self) -> bool {
        self.status == "green" && self.optimizer_error.is_none()
    }
}

/// One search request.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub vector: &'a [f32],
    pub k: u64,
    pub hnsw_ef: Option<u64>,
    pub exact: bool,
    /// The group to filter on.
    pub group: Option<u32>,
    pub api: Api,
    /// `params.quantization.oversampling` (with rescoring), when set.
    pub oversampling: Option<f64>,
}

#[derive(Serialize)]
struct RestPoint<'a> {
    id: u64,
    vector: &'a [f32],
    payload: RestPayload,
}

#[derive(Serialize)]
struct RestUpsert<'a> {
    points: Vec<RestPoint<'a>>,
}

#[derive(Serialize)]
struct RestPayload {
    group: String,
}

#[derive(Serialize)]
struct RestSearch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<&'a [f32]>,
    limit: u64,
    params: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<Value>,
    with_payload: bool,
    with_vector: bool,
}

#[derive(Deserialize)]
struct RestScored {
    id: Value,
}

fn group_filter_json(group: u32) -> Value {
    json!({"must": [{"key": GROUP_FIELD, "match": {"value": Dataset::group_name(group)}}]})
}

fn group_filter_grpc(group: u32) -> Filter {
    Filter::must([Condition::matches(GROUP_FIELD, Dataset::group_name(group))])
}

fn grpc_distance(d: Distance) -> pb::Distance {
    match d {
        Distance::Cosine => pb::Distance::Cosine,
        Distance::Dot => pb::Distance::Dot,
        Distance::Euclid => pb::Distance::Euclid,
    }
}

/// A gRPC failure as `<code>: <message>`, without the client's dump of the metadata.
fn grpc_error(e: qdrant_client::QdrantError) -> anyhow::Error {
    match e {
        qdrant_client::QdrantError::ResponseError { status } => {
            anyhow!("gRPC {:?}: {}", status.code(), status.message())
        }
        other => anyhow!(other),
    }
}

/// Integer ids as numbers; a UUID (not ours) becomes `u64::MAX`, which never matches.
fn grpc_id(p: &pb::ScoredPoint) -> u64 {
    match p.id.as_ref().and_then(|id| id.point_id_options.as_ref()) {
        Some(pb::point_id::PointIdOptions::Num(n)) => *n,
        _ => u64::MAX,
    }
}

impl Conn {
    fn path(&self, rest: &str) -> String {
        format!("/collections/{}{rest}", self.collection)
    }

    pub async fn exists(&self) -> Result<bool> {
        match &self.kind {
            Kind::Grpc(c) => Ok(c
                .collection_exists(self.collection.clone())
                .await
                .map_err(grpc_error)?),
            Kind::Rest(r) => {
                let v = r
                    .call(reqwest::Method::GET, &self.path("/exists"), None)
                    .await?;
                v["result"]["exists"]
                    .as_bool()
                    .ok_or_else(|| anyhow!("unexpected answer to /exists: {v}"))
            }
        }
    }

    pub async fn delete(&self) -> Result<()> {
        match &self.kind {
            Kind::Grpc(c) => {
                c.delete_collection(DeleteCollection {
                    collection_name: self.collection.clone(),
                    ..Default::default()
                })
                .await
                .map_err(grpc_error)?;
            }
            Kind::Rest(r) => {
                r.call(reqwest::Method::DELETE, &self.path(""), None)
                    .await?;
            }
        }
        Ok(())
    }

    // `on_disk`, not 1.19's `memory`: Qdrant 1.18 knows only the former.
    #[allow(deprecated)]
    pub async fn create(&self, spec: &CollectionSpec) -> Result<()> {
        match &self.kind {
            Kind::Grpc(c) => {
                c.create_collection(CreateCollection {
                    collection_name: self.collection.clone(),
                    vectors_config: Some(VectorsConfig {
                        config: Some(vectors_config::Config::Params(VectorParams {
                            size: spec.dim as u64,
                            distance: grpc_distance(spec.distance) as i32,
                            on_disk: spec.on_disk.then_some(true),
                            ..Default::default()
                        })),
                    }),
                    hnsw_config: Some(HnswConfigDiff {
                        m: Some(spec.m),
                        ef_construct: Some(spec.ef_construct),
                        ..Default::default()
                    }),
                    quantization_config: spec.quantization_grpc(),
                    ..Default::default()
                })
                .await
                .map_err(grpc_error)?;
            }
            Kind::Rest(r) => {
                let mut body = json!({
                    "vectors": {"size": spec.dim, "distance": spec.distance.rest_name(), "on_disk": spec.on_disk},
                    "hnsw_config": {"m": spec.m, "ef_construct": spec.ef_construct},
                });
                if spec.quantization != Quantization::None {
                    body["quantization_config"] = spec.quantization_json();
                }
                r.call(
                    reqwest::Method::PUT,
                    &self.path(""),
                    Some(body.to_string().into_bytes()),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A keyword payload index on [`GROUP_FIELD`], waiting until it exists.
    pub async fn create_group_index(&self) -> Result<()> {
        match &self.kind {
            Kind::Grpc(c) => {
                c.create_field_index(CreateFieldIndexCollection {
                    collection_name: self.collection.clone(),
                    wait: Some(true),
                    field_name: GROUP_FIELD.into(),
                    field_type: Some(FieldType::Keyword as i32),
                    ..Default::default()
                })
                .await
                .map_err(grpc_error)?;
            }
            Kind::Rest(r) => {
                let body = json!({"field_name": GROUP_FIELD, "field_schema": "keyword"});
                r.call(
                    reqwest::Method::PUT,
                    &self.path("/index?wait=true"),
                    Some(body.to_string().into_bytes()),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Upsert points `ids` of `dataset` with `wait=true`.
    pub async fn upsert(&self, dataset: &Dataset, ids: Range<usize>) -> Result<()> {
        match &self.kind {
            Kind::Grpc(c) => {
                let points: Vec<PointStruct> = ids
                    .map(|id| {
                        let mut payload = qdrant_client::Payload::new();
                        payload
                            .insert(GROUP_FIELD, Dataset::group_name(dataset.group_of_point(id)));
                        PointStruct::new(id as u64, dataset.points.row(id).to_vec(), payload)
                    })
                    .collect();
                c.upsert_points(UpsertPoints {
                    collection_name: self.collection.clone(),
                    wait: Some(true),
                    points,
                    ..Default::default()
                })
                .await
                .map_err(grpc_error)?;
            }
            Kind::Rest(r) => {
                let points: Vec<RestPoint> = ids
                    .map(|id| RestPoint {
                        id: id as u64,
                        vector: dataset.points.row(id),
                        payload: RestPayload {
                            group: Dataset::group_name(dataset.group_of_point(id)),
                        },
                    })
                    .collect();
                let body = serde_json::to_vec(&RestUpsert { points })?;
                r.call(
                    reqwest::Method::PUT,
                    &self.path("/points?wait=true"),
                    Some(body),
                )
                .await?;
            }
        }
        Ok(())
    }

    pub async fn state(&self) -> Result<CollectionState> {
        match &self.kind {
            Kind::Grpc(c) => {
                let info = c
                    .collection_info(GetCollectionInfoRequest {
                        collection_name: self.collection.clone(),
                    })
                    .await
                    .map_err(grpc_error)?
                    .result
                    .ok_or_else(|| anyhow!("GetCollectionInfo answered without a result"))?;
                let status = pb::CollectionStatus::try_from(info.status)
                    .map(|s| s.as_str_name().to_ascii_lowercase())
                    .unwrap_or_else(|_| format!("unknown ({})", info.status));
                let optimizer_error = match info.optimizer_status {
                    Some(s) if s.ok => None,
                    Some(s) => Some(s.error),
                    None => Some("no optimizer status".into()),
                };
                Ok(CollectionState {
                    status,
                    optimizer_error,
                    points_count: info.points_count,
                    indexed_vectors_count: info.indexed_vectors_count,
                    segments_count: Some(info.segments_count),
                })
            }
            Kind::Rest(r) => {
                let v = r.call(reqwest::Method::GET, &self.path(""), None).await?;
                let info = &v["result"];
                let optimizer_error = match &info["optimizer_status"] {
                    Value::String(s) if s == "ok" => None,
                    Value::Object(o) => Some(
                        o.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("optimizer error")
                            .to_string(),
                    ),
                    other => Some(format!("unexpected optimizer_status {other}")),
                };
                Ok(CollectionState {
                    status: info["status"].as_str().unwrap_or("missing").to_string(),
                    optimizer_error,
                    points_count: info["points_count"].as_u64(),
                    indexed_vectors_count: info["indexed_vectors_count"].as_u64(),
                    segments_count: info["segments_count"].as_u64(),
                })
            }
        }
    }

    /// Run one search; the ids of the answer, best first.
    pub async fn search(&self, s: Search<'_>) -> Result<Vec<u64>> {
        match &self.kind {
            Kind::Grpc(c) => {
                let params = Some(SearchParams {
                    hnsw_ef: s.hnsw_ef,
                    exact: Some(s.exact),
                    quantization: s.oversampling.map(|o| pb::QuantizationSearchParams {
                        oversampling: Some(o),
                        rescore: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                let filter = s.group.map(group_filter_grpc);
                let points = match s.api {
                    Api::Query => {
                        c.query(QueryPoints {
                            collection_name: self.collection.clone(),
                            query: Some(s.vector.to_vec().into()),
                            limit: Some(s.k),
                            params,
                            filter,
                            ..Default::default()
                        })
                        .await
                        .map_err(grpc_error)?
                        .result
                    }
                    Api::Search => {
                        c.search_points(SearchPoints {
                            collection_name: self.collection.clone(),
                            vector: s.vector.to_vec(),
                            limit: s.k,
                            params,
                            filter,
                            ..Default::default()
                        })
                        .await
                        .map_err(grpc_error)?
                        .result
                    }
                };
                Ok(points.iter().map(grpc_id).collect())
            }
            Kind::Rest(r) => {
                let mut params = json!({"exact": s.exact});
                if let Some(ef) = s.hnsw_ef {
                    params["hnsw_ef"] = ef.into();
                }
                if let Some(o) = s.oversampling {
                    params["quantization"] = json!({"oversampling": o, "rescore": true});
                }
                let (path, query, vector) = match s.api {
                    Api::Query => ("/points/query", Some(s.vector), None),
                    Api::Search => ("/points/search", None, Some(s.vector)),
                };
                let body = serde_json::to_vec(&RestSearch {
                    query,
                    vector,
                    limit: s.k,
                    params,
                    filter: s.group.map(group_filter_json),
                    with_payload: false,
                    with_vector: false,
                })?;
                let mut v = r
                    .call(reqwest::Method::POST, &self.path(path), Some(body))
                    .await?;
                let points = match s.api {
                    Api::Query => v["result"]["points"].take(),
                    Api::Search => v["result"].take(),
                };
                let points: Vec<RestScored> = serde_json::from_value(points)
                    .context("search answer has no list of points")?;
                Ok(points
                    .iter()
                    .map(|p| p.id.as_u64().unwrap_or(u64::MAX))
                    .collect())
            }
        }
    }
}

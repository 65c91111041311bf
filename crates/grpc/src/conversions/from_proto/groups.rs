//! Grouped searches (search, recommend and query `…/groups`), discovery,
//! facet counts and the distance matrix.

use osprey_engine::requests::{
    ContextPair, DiscoverRequest, FacetRequest, GroupsParams, QueryGroupsRequest,
    RecommendGroupsRequest, SearchGroupsRequest, SearchMatrixRequest, VectorInput, WithLookup,
    WithLookupInterface,
};
use qdrant_client::qdrant::{self as proto, target_vector::Target, vector_example::Example};

use super::filter::optional_filter;
use super::points::shard_key;
use super::reads::{
    Read, examples, lookup_location, named_vector, optional_size, prefetches, query_interface,
    recommend_strategy, search_params, size, with_payload, with_vectors,
};
use super::value::point_id;
use super::vectors::vector_as_input;
use crate::conversions::{Decoded, invalid};

/// The grouping part of every `…Groups` message.
fn groups(
    group_by: String,
    group_size: Option<u64>,
    limit: Option<u64>,
    with_lookup: Option<proto::WithLookup>,
) -> Decoded<GroupsParams> {
    Ok(GroupsParams {
        group_by,
        group_size: optional_size(group_size, "group_size")?,
        limit: optional_size(limit, "limit")?,
        with_lookup: with_lookup.map(|l| {
            WithLookupInterface::WithLookup(WithLookup {
                collection: l.collection,
                with_payload: with_payload(l.with_payload),
                with_vectors: with_vectors(l.with_vectors),
            })
        }),
    })
}

/// `SearchPointGroups`.
pub(crate) fn search_groups(
    request: proto::SearchPointGroups,
) -> Decoded<Read<SearchGroupsRequest>> {
    let proto::SearchPointGroups {
        collection_name,
        vector,
        filter,
        limit,
        with_payload: payload_selector,
        params,
        score_threshold,
        vector_name,
        with_vectors: vectors_selector,
        group_by,
        group_size,
        read_consistency: _,
        with_lookup,
        timeout: _,
        shard_key_selector,
        sparse_indices,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: SearchGroupsRequest {
            vector: named_vector(vector, vector_name, sparse_indices),
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            score_threshold,
            groups: groups(
                group_by,
                Some(u64::from(group_size)),
                Some(u64::from(limit)),
                with_lookup,
            )?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `RecommendPointGroups`.
pub(crate) fn recommend_groups(
    request: proto::RecommendPointGroups,
) -> Decoded<Read<RecommendGroupsRequest>> {
    let proto::RecommendPointGroups {
        collection_name,
        positive,
        negative,
        filter,
        limit,
        with_payload: payload_selector,
        params,
        score_threshold,
        using,
        with_vectors: vectors_selector,
        lookup_from,
        group_by,
        group_size,
        read_consistency: _,
        with_lookup,
        strategy,
        positive_vectors,
        negative_vectors,
        timeout: _,
        shard_key_selector,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: RecommendGroupsRequest {
            positive: examples(positive, positive_vectors)?,
            negative: examples(negative, negative_vectors)?,
            strategy: strategy.map(recommend_strategy).transpose()?,
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            score_threshold,
            using,
            lookup_from: lookup_location(lookup_from)?,
            groups: groups(
                group_by,
                Some(u64::from(group_size)),
                Some(u64::from(limit)),
                with_lookup,
            )?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `QueryPointGroups`.
pub(crate) fn query_groups(request: proto::QueryPointGroups) -> Decoded<Read<QueryGroupsRequest>> {
    let proto::QueryPointGroups {
        collection_name,
        prefetch,
        query,
        using,
        filter,
        params,
        score_threshold,
        with_payload: payload_selector,
        with_vectors: vectors_selector,
        lookup_from,
        limit,
        group_size,
        group_by,
        read_consistency: _,
        with_lookup,
        timeout: _,
        shard_key_selector,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: QueryGroupsRequest {
            prefetch: prefetches(prefetch)?,
            query: query.map(query_interface).transpose()?,
            using,
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            score_threshold,
            with_vector: with_vectors(vectors_selector),
            with_payload: with_payload(payload_selector),
            lookup_from: lookup_location(lookup_from)?,
            groups: groups(group_by, group_size, limit, with_lookup)?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

fn example(example: Option<proto::VectorExample>, what: &str) -> Decoded<VectorInput> {
    match example.and_then(|e| e.example) {
        Some(Example::Id(id)) => Ok(VectorInput::Id(point_id(id)?)),
        Some(Example::Vector(v)) => vector_as_input(v),
        None => Err(invalid(format!("{what} is required"))),
    }
}

/// `DiscoverPoints`. An empty context reads as "no context".
pub(crate) fn discover(request: proto::DiscoverPoints) -> Decoded<Read<DiscoverRequest>> {
    let proto::DiscoverPoints {
        collection_name,
        target,
        context,
        filter,
        limit,
        with_payload: payload_selector,
        params,
        offset,
        using,
        with_vectors: vectors_selector,
        lookup_from,
        read_consistency: _,
        timeout: _,
        shard_key_selector,
    } = request;
    let target = match target.and_then(|t| t.target) {
        Some(Target::Single(e)) => Some(example(Some(e), "discover target")?),
        None => None,
    };
    let context = context
        .into_iter()
        .map(|pair| {
            Ok(ContextPair {
                positive: example(pair.positive, "context pair positive")?,
                negative: example(pair.negative, "context pair negative")?,
            })
        })
        .collect::<Decoded<Vec<_>>>()?;
    Ok(Read {
        collection: collection_name,
        request: DiscoverRequest {
            target,
            context: (!context.is_empty()).then_some(context),
            filter: optional_filter(filter)?,
            params: search_params(params)?,
            limit: size(limit, "limit")?,
            offset: optional_size(offset, "offset")?,
            with_payload: with_payload(payload_selector),
            with_vector: with_vectors(vectors_selector),
            using,
            lookup_from: lookup_location(lookup_from)?,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `FacetCounts`.
pub(crate) fn facet(request: proto::FacetCounts) -> Decoded<Read<FacetRequest>> {
    let proto::FacetCounts {
        collection_name,
        key,
        filter,
        limit,
        exact,
        timeout: _,
        read_consistency: _,
        shard_key_selector,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: FacetRequest {
            key,
            limit: optional_size(limit, "limit")?,
            filter: optional_filter(filter)?,
            exact,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

/// `SearchMatrixPoints` (both matrix rpcs).
pub(crate) fn search_matrix(
    request: proto::SearchMatrixPoints,
) -> Decoded<Read<SearchMatrixRequest>> {
    let proto::SearchMatrixPoints {
        collection_name,
        filter,
        sample,
        limit,
        using,
        timeout: _,
        read_consistency: _,
        shard_key_selector,
    } = request;
    Ok(Read {
        collection: collection_name,
        request: SearchMatrixRequest {
            filter: optional_filter(filter)?,
            sample: optional_size(sample, "sample")?,
            limit: optional_size(limit, "limit")?,
            using,
            shard_key: shard_key(shard_key_selector)?,
        },
    })
}

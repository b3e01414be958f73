//! The APIs Brook serves and the exact version range of each: the ApiVersions table.
//!
//! Minimums are the oldest versions Kafka 4.x's message schemas still describe (Kafka 4.0
//! dropped pre-2.1 versions). Maximums stop before versions whose meaning Brook does not
//! implement: Produce v13 and OffsetCommit v10 address topics by id only, Metadata v13
//! and ListOffsets v10 carry KIP-1102/KIP-1075 semantics, InitProducerId v6 is two-phase
//! commit (KIP-939).

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey, SupportedFeatureKey};

use crate::{ApiKey, ErrorCode, ProtocolError, StrBytes};

/// One row of the ApiVersions table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    pub key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
}

const fn api(key: ApiKey, min_version: i16, max_version: i16) -> ApiSupport {
    ApiSupport {
        key,
        min_version,
        max_version,
    }
}

/// Every API Brook decodes, with the versions it accepts, in api key order.
pub const SUPPORTED_APIS: &[ApiSupport] = &[
    api(ApiKey::Produce, 3, 12),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 9),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::SaslHandshake, 0, 1),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::AlterReplicaLogDirs, 1, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::ElectLeaders, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::AlterPartitionReassignments, 0, 1),
    api(ApiKey::ListPartitionReassignments, 0, 0),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::DescribeQuorum, 0, 2),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// A feature flag as ApiVersions (v3+) advertises it (KIP-584): the levels this broker
/// supports and the level in force. Clients read them to choose protocol variants, e.g.
/// `transaction.version` 2 selects KIP-890's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub min_level: i16,
    pub max_level: i16,
    pub finalized_level: i16,
}

const fn feature(name: &'static str, min_level: i16, max_level: i16, finalized_level: i16) -> Feature {
    Feature {
        name,
        min_level,
        max_level,
        finalized_level,
    }
}

/// Brook's features, levels as Kafka numbers them. `metadata.version` 25 is 4.0-IV3, the
/// Kafka release whose request versions Brook's table matches. The rest stay at level 0
/// until Brook has them: the KIP-848 group protocol (`group.version`), transactions
/// (`transaction.version`), share groups (`share.version`), the streams group protocol
/// (`streams.version`) and eligible leader replicas (KIP-966). Kafka's `kraft.version` is
/// left out: Brook's quorum is not KRaft.
pub const FEATURES: &[Feature] = &[
    feature("eligible.leader.replicas.version", 0, 0, 0),
    feature("group.version", 0, 0, 0),
    feature("metadata.version", 7, 25, 25),
    feature("share.version", 0, 0, 0),
    feature("streams.version", 0, 0, 0),
    feature("transaction.version", 0, 0, 0),
];

/// Adds [`FEATURES`] to an ApiVersions response (v3+ carries them as tagged fields).
/// A level-0 feature is supported but not finalized, as Kafka reports it. `epoch` is the
/// metadata version the answer was made at: it only grows, so a client that hears from
/// several brokers keeps the newest.
pub fn with_features(response: ApiVersionsResponse, epoch: i64) -> ApiVersionsResponse {
    response
        .with_supported_features(
            FEATURES
                .iter()
                .map(|f| {
                    SupportedFeatureKey::default()
                        .with_name(StrBytes::from_static_str(f.name))
                        .with_min_version(f.min_level)
                        .with_max_version(f.max_level)
                })
                .collect(),
        )
        .with_finalized_features_epoch(epoch)
        .with_finalized_features(
            FEATURES
                .iter()
                .filter(|f| f.finalized_level > 0)
                .map(|f| {
                    FinalizedFeatureKey::default()
                        .with_name(StrBytes::from_static_str(f.name))
                        .with_min_version_level(f.finalized_level)
                        .with_max_version_level(f.finalized_level)
                })
                .collect(),
        )
}

/// The controller quorum's log as DescribeQuorum names it (KRaft's metadata topic); its
/// one partition is 0.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// The row for an api key, if Brook serves it.
pub fn support(api_key: i16) -> Option<&'static ApiSupport> {
    SUPPORTED_APIS.iter().find(|s| s.key as i16 == api_key)
}

/// Checks that Brook serves this API at this version; the error says what it does serve.
pub fn check_supported(api_key: i16, version: i16) -> Result<ApiKey, ProtocolError> {
    let support = support(api_key).ok_or(ProtocolError::UnsupportedApi(api_key))?;
    if (support.min_version..=support.max_version).contains(&version) {
        Ok(support.key)
    } else {
        Err(ProtocolError::UnsupportedVersion {
            api_key,
            version,
            min: support.min_version,
            max: support.max_version,
        })
    }
}

/// The ApiVersions response body listing [`SUPPORTED_APIS`], with the given error code.
///
/// A client that asked with a version Brook does not serve gets `UNSUPPORTED_VERSION`
/// encoded as version 0 (see [`crate::codec::API_VERSIONS_FALLBACK_VERSION`]) and retries
/// with a version from this list, as KIP-511 describes.
pub fn api_versions_response(error: Option<ErrorCode>) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_api_keys(
            SUPPORTED_APIS
                .iter()
                .map(|s| {
                    ApiVersion::default()
                        .with_api_key(s.key as i16)
                        .with_min_version(s.min_version)
                        .with_max_version(s.max_version)
                })
                .collect(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_within_the_schemas() {
        for pair in SUPPORTED_APIS.windows(2) {
            assert!((pair[0].key as i16) < (pair[1].key as i16), "{pair:?}");
        }
        for s in SUPPORTED_APIS {
            let schema = s.key.valid_versions();
            assert!(s.min_version <= s.max_version, "{s:?}");
            assert!(
                schema.min <= s.min_version && s.max_version <= schema.max,
                "{s:?} vs {schema:?}"
            );
        }
    }

    #[test]
    fn librdkafka_consumer_prerequisites_are_advertised() {
        // librdkafka refuses to consume without these (docs/architecture.md).
        for key in [
            ApiKey::FindCoordinator,
            ApiKey::JoinGroup,
            ApiKey::SyncGroup,
            ApiKey::Heartbeat,
            ApiKey::OffsetCommit,
            ApiKey::OffsetFetch,
        ] {
            assert!(support(key as i16).is_some(), "{key:?}");
        }
    }

    #[test]
    fn check_supported_reports_the_range() {
        assert_eq!(check_supported(18, 3), Ok(ApiKey::ApiVersions));
        assert_eq!(
            check_supported(18, 9),
            Err(ProtocolError::UnsupportedVersion {
                api_key: 18,
                version: 9,
                min: 0,
                max: 4
            })
        );
        assert_eq!(check_supported(71, 0), Err(ProtocolError::UnsupportedApi(71)));
        assert_eq!(check_supported(-5, 0), Err(ProtocolError::UnsupportedApi(-5)));
    }

    #[test]
    fn api_versions_response_lists_every_row() {
        let response = api_versions_response(None);
        assert_eq!(response.api_keys.len(), SUPPORTED_APIS.len());
    }
}

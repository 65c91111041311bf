//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so tools
//! such as `grpcurl` and `grpc_requests` can call the server without the
//! protos. It advertises exactly Qdrant 1.18's public services and describes
//! them with the descriptors of what this server serves: nothing of
//! Osprey's own, and not the reflection service itself.
//!
//! Reflection sits behind the authentication layer like every rpc that is
//! not a health check (access table: `any_auth`), so the API is not
//! disclosed to callers without a credential.
//!
//! The Qdrant descriptors come from `proto/public.bin`, made by
//! `proto/regenerate.py` from the qdrant-client protos the server is built
//! with plus `proto/storage_read_service.proto`; `grpc.health.v1` from
//! tonic-health. The tests below hold them to the served rpcs.

use tonic_reflection::server::{Builder, Error, v1, v1alpha};

/// The Qdrant services of the public port, described for reflection.
const PUBLIC_DESCRIPTORS: &[u8] = include_bytes!("../proto/public.bin");

/// The services reflection lists, in Qdrant's order.
pub(crate) const ADVERTISED: [&str; 6] = [
    "qdrant.Collections",
    "qdrant.Points",
    "qdrant.Snapshots",
    "qdrant.Qdrant",
    crate::storage_read::SERVICE,
    "grpc.health.v1.Health",
];

fn builder() -> Builder<'static> {
    let builder = Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(PUBLIC_DESCRIPTORS)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    ADVERTISED.iter().fold(builder, |builder, service| {
        builder.with_service_name(*service)
    })
}

/// `grpc.reflection.v1.ServerReflection`.
pub(crate) fn v1() -> Result<v1::ServerReflectionServer<impl v1::ServerReflection>, Error> {
    builder().build_v1()
}

/// `grpc.reflection.v1alpha.ServerReflection`, which older clients use.
pub(crate) fn v1alpha()
-> Result<v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>, Error> {
    builder().build_v1alpha()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

    use super::*;
    use crate::storage_read::proto as sr;

    fn files() -> Vec<FileDescriptorProto> {
        let mut files = FileDescriptorSet::decode(PUBLIC_DESCRIPTORS).unwrap().file;
        files.extend(
            FileDescriptorSet::decode(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .unwrap()
                .file,
        );
        files
    }

    /// `package.Service` -> method names, over every described service.
    fn described() -> BTreeMap<String, BTreeSet<String>> {
        let mut services = BTreeMap::new();
        for file in files() {
            for service in &file.service {
                let methods = service.method.iter().map(|m| m.name().to_owned()).collect();
                services.insert(format!("{}.{}", file.package(), service.name()), methods);
            }
        }
        services
    }

    /// Prevents the descriptor from advertising an rpc the server does not
    /// serve, or missing one it does (a regenerated `public.bin` from other
    /// protos, a new served rpc): the described services and methods are
    /// exactly the served ones. tonic-health also serves `Watch`, which the
    /// table of access has no row for.
    #[test]
    fn descriptors_describe_exactly_the_served_rpcs() {
        let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let rpcs = crate::services::RPCS.iter().copied();
        for rpc in rpcs.chain(["grpc.health.v1.Health/Watch"]) {
            let (service, method) = rpc.split_once('/').unwrap();
            if service.starts_with("grpc.reflection.") {
                continue;
            }
            served
                .entry(service.to_owned())
                .or_default()
                .insert(method.to_owned());
        }
        assert_eq!(described(), served);
        let advertised: BTreeSet<String> = ADVERTISED.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(served.keys().cloned().collect::<BTreeSet<_>>(), advertised);
    }

    #[test]
    fn both_reflection_services_build() {
        v1().unwrap();
        v1alpha().unwrap();
    }

    /// Every field of `message`, encoded with a value that is not the default,
    /// in field-number order (prost's encoding order).
    fn sample(message: &DescriptorProto) -> Vec<u8> {
        let mut fields = message.field.clone();
        fields.sort_by_key(|f| f.number());
        let mut out = Vec::new();
        for field in &fields {
            let tag = u32::try_from(field.number()).unwrap();
            match field.r#type() {
                Type::String => prost::encoding::string::encode(tag, &"p/q".to_owned(), &mut out),
                Type::Bytes => prost::encoding::bytes::encode(tag, &vec![7u8, 0, 9], &mut out),
                Type::Uint64 => prost::encoding::uint64::encode(tag, &(1u64 << 40), &mut out),
                Type::Bool => prost::encoding::bool::encode(tag, &true, &mut out),
                // An empty nested message: present, with every field default.
                Type::Message => {
                    prost::encoding::encode_key(
                        tag,
                        prost::encoding::WireType::LengthDelimited,
                        &mut out,
                    );
                    prost::encoding::encode_varint(0, &mut out);
                }
                other => panic!(
                    "{}.{}: no sample for {other:?}",
                    message.name(),
                    field.name()
                ),
            }
            // A repeated field gets a second element, so a scalar field in
            // the struct (which would keep only the last) cannot pass.
            if field.label() == Label::Repeated && field.r#type() == Type::String {
                prost::encoding::string::encode(tag, &"r".to_owned(), &mut out);
            }
            if field.label() == Label::Repeated && field.r#type() == Type::Bytes {
                prost::encoding::bytes::encode(tag, &vec![1u8], &mut out);
            }
        }
        out
    }

    fn roundtrip<T: Message + Default>(bytes: &[u8]) -> Vec<u8> {
        T::decode(bytes).unwrap().encode_to_vec()
    }

    /// Prevents the hand-written StorageRead messages from drifting from the
    /// wire contract reflection advertises: each described message, with all
    /// its fields set, decodes into our struct and encodes back to the same
    /// bytes (prost drops a field it does not know, or knows with another
    /// number or wire type, so any difference shows).
    #[test]
    fn storage_read_messages_match_the_descriptor() {
        let file = files()
            .into_iter()
            .find(|f| f.name() == "storage_read_service.proto")
            .unwrap();
        let check = |name: &str, bytes: &[u8]| -> Vec<u8> {
            match name {
                "ListFilesRequest" => roundtrip::<sr::ListFilesRequest>(bytes),
                "ListFilesResponse" => roundtrip::<sr::ListFilesResponse>(bytes),
                "FileExistsRequest" => roundtrip::<sr::FileExistsRequest>(bytes),
                "FileExistsResponse" => roundtrip::<sr::FileExistsResponse>(bytes),
                "FileLengthRequest" => roundtrip::<sr::FileLengthRequest>(bytes),
                "FileLengthResponse" => roundtrip::<sr::FileLengthResponse>(bytes),
                "ReadBytesRequest" | "ReadBytesStreamRequest" => {
                    roundtrip::<sr::ReadBytesRequest>(bytes)
                }
                "ReadBytesResponse" | "ReadBytesStreamResponse" | "ReadWholeResponse" => {
                    roundtrip::<sr::DataResponse>(bytes)
                }
                "ReadWholeRequest" => roundtrip::<sr::ReadWholeRequest>(bytes),
                "ReadBatchRange" => roundtrip::<sr::ReadBatchRange>(bytes),
                "ReadBatchRequest" => roundtrip::<sr::ReadBatchRequest>(bytes),
                "ReadMultiEntry" => roundtrip::<sr::ReadMultiEntry>(bytes),
                "ReadMultiRequest" => roundtrip::<sr::ReadMultiRequest>(bytes),
                "ReadBatchResponse" | "ReadMultiResponse" => {
                    roundtrip::<sr::DataListResponse>(bytes)
                }
                other => panic!("no struct for {other}"),
            }
        };
        assert_eq!(file.message_type.len(), 18);
        for message in &file.message_type {
            let bytes = sample(message);
            assert!(!bytes.is_empty(), "{}", message.name());
            assert_eq!(check(message.name(), &bytes), bytes, "{}", message.name());
        }
        // Only ReadBytesStream streams, and only its answer.
        let service = &file.service[0];
        for method in &service.method {
            assert!(!method.client_streaming(), "{}", method.name());
            assert_eq!(
                method.server_streaming(),
                method.name() == "ReadBytesStream",
                "{}",
                method.name()
            );
            assert_eq!(
                method.input_type(),
                format!(".qdrant.{}Request", method.name())
            );
            assert_eq!(
                method.output_type(),
                format!(".qdrant.{}Response", method.name())
            );
        }
    }
}

#!/usr/bin/env python3
"""Regenerates `public.bin`, the FileDescriptorSet that gRPC reflection serves.

It holds the Qdrant services of the public port, described by the protos of
the qdrant-client crate the server is built from (`qdrant.proto` and what it
imports: Collections, Points, Snapshots, Qdrant), plus our
`storage_read_service.proto`. `grpc.health.v1` comes from tonic-health at run
time. The file is committed so the build needs no protoc; a Rust test
(`reflection::tests`) checks it against the rpcs the server serves.

Needs protoc from grpcio-tools in any Python environment:
    python3 -m venv /tmp/protoc && /tmp/protoc/bin/pip install grpcio-tools
    /tmp/protoc/bin/python crates/grpc/proto/regenerate.py
"""

import json
import pathlib
import subprocess
import sys

from grpc_tools import protoc
import grpc_tools

HERE = pathlib.Path(__file__).resolve().parent


def qdrant_client_protos() -> pathlib.Path:
    """The proto directory of the qdrant-client crate in Cargo.lock."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            cwd=HERE,
            check=True,
            capture_output=True,
        ).stdout
    )
    for package in metadata["packages"]:
        if package["name"] == "qdrant-client":
            return pathlib.Path(package["manifest_path"]).parent / "proto"
    sys.exit("qdrant-client is not in the dependency graph")


def main() -> None:
    client = qdrant_client_protos()
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    out = HERE / "public.bin"
    args = [
        "protoc",
        f"-I{HERE}",
        f"-I{client}",
        f"-I{well_known}",
        "--include_imports",
        f"--descriptor_set_out={out}",
        "qdrant.proto",
        "storage_read_service.proto",
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    print(f"wrote {out} ({out.stat().st_size} bytes) from {client}")


if __name__ == "__main__":
    main()

import type { PackageDefinition } from "@grpc/proto-loader";
import { HoistError } from "../errors/index.ts";
import { DESCRIPTOR_SET_BASE64 } from "./generated/descriptor-set.ts";

/**
 * The contract's file descriptors as protoc compiles them (scripts/gen-proto.sh): one
 * FileDescriptorProto per .proto file (`hoist/agent/v1/agent.proto`, `health/v1/health.proto`,
 * `google/protobuf/timestamp.proto`), with snake_case field names, their imports and comments.
 *
 * Why not proto-loader's own descriptors: it merges files by package (`hoist_agent_v1.proto`),
 * renames fields to camelCase with keepCase off, and leaves the import of Timestamp out, so clients
 * that build types from reflection (grpcurl, Python's descriptor_pool) fail with
 * `"google.protobuf.Timestamp" is not defined` (grpc/grpc-node#2958).
 */
export function contractFileDescriptors(): Buffer[] {
  return splitFileDescriptorSet(Buffer.from(DESCRIPTOR_SET_BASE64, "base64"));
}

/**
 * A package definition that carries only `fileDescriptorProtos`: the shape @grpc/reflection's
 * ReflectionService indexes (it reads nothing else), so that it serves protoc's files unchanged.
 */
export function reflectionDefinition(): PackageDefinition {
  return { "hoist.agent.v1": { fileDescriptorProtos: contractFileDescriptors() } } as unknown as PackageDefinition;
}

/**
 * The FileDescriptorProto bytes of a google.protobuf.FileDescriptorSet (`repeated FileDescriptorProto
 * file = 1`): each is field 1, wire type 2 (length-delimited). @throws HoistError INTERNAL on anything
 * else (the generated file would not be a descriptor set: run `npm run gen:proto`).
 */
export function splitFileDescriptorSet(set: Buffer): Buffer[] {
  const files: Buffer[] = [];
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (offset >= set.length || shift > 28) throw new HoistError("INTERNAL", "descriptor set: bad varint");
      const byte = set[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (offset < set.length) {
    const tag = varint();
    if (tag !== 0x0a) throw new HoistError("INTERNAL", `descriptor set: unexpected tag ${tag}`);
    const length = varint();
    if (offset + length > set.length) throw new HoistError("INTERNAL", "descriptor set: truncated file");
    files.push(set.subarray(offset, offset + length));
    offset += length;
  }
  return files;
}

import { createRequire } from 'node:module';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;

// NOTE: `historyToJSON` and `historyFromJSON` of @temporalio/common 1.24.0 fail here with
// "type must be a Type". npm installs one copy of protobufjs 8 under @temporalio/common and
// another under @temporalio/proto, because protobufjs 7 of @grpc/proto-loader takes the top
// level, and the JSON converter rejects a type built by the other copy. These helpers use
// the copy that built the types, and write the same proto3 JSON as `historyToJSON`.
const protoRequire = createRequire(require.resolve('@temporalio/proto'));
const { toJson, fromJson } = protoRequire('protobufjs/ext/protojson') as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const historyType = (patchProtobufRoot(proto) as any).lookupType('temporal.api.history.v1.History');

/** Serializes a workflow history as proto3 JSON, indented, with a final newline. */
export function historyToJson(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history as Record<string, unknown>);
  return `${JSON.stringify(toJson(historyType, message), null, 2)}\n`;
}

/** Parses a proto3 JSON workflow history into the message that `Worker.runReplayHistory` accepts. */
export function historyFromJson(text: string): History {
  const history = fromJson(historyType, JSON.parse(text), { ignoreUnknownFields: true });
  if (history === null || typeof history !== 'object') throw new TypeError('Invalid workflow history JSON: expected an object with an events array.');
  return history as History;
}

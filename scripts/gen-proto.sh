#!/usr/bin/env bash
# Regenerates the TypeScript types of the gRPC contract into shared/proto/generated/.
# The output is committed; never edit it by hand. Run after changing proto/**:
#   npm run gen:proto
# The options here must match LOAD_OPTIONS in shared/proto/load.ts (keepCase off, longs as Number,
# enums as String, defaults, oneofs), or the types will not describe what the loader returns.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/shared/proto/generated"
# Relative, so the "Original file" comments in the output do not name this machine's paths.
health_dir="$(cd "$root" && node -p 'const p = require("path"); p.relative(process.cwd(), p.resolve(require("grpc-health-check").protoPath, "../../.."))')"

rm -rf "$out"
mkdir -p "$out"

cd "$root"
npx --no-install proto-loader-gen-types \
  --grpcLib=@grpc/grpc-js \
  --longs=Number \
  --enums=String \
  --defaults \
  --oneofs \
  --includeComments \
  --importFileExtension=.ts \
  -I proto \
  -I "$health_dir" \
  -O "$out" \
  hoist/agent/v1/agent.proto \
  health/v1/health.proto

echo "generated $(find "$out" -name '*.ts' | wc -l) files in ${out#"$root"/}"

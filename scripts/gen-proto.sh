#!/usr/bin/env bash
# Regenerates the TypeScript types of the gRPC contract into shared/proto/generated/.
# The output is committed; never edit it by hand. Run after changing proto/**:
#   npm run gen:proto
# With an argument (a dir named generated), writes there instead (test/grpc-types.test.ts uses it to check the committed
# output is current).
# The options here must match LOAD_OPTIONS in shared/proto/load.ts (keepCase off, longs as Number,
# enums as String, defaults, oneofs), or the types will not describe what the loader returns.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m "${1:-$root/shared/proto/generated}")"
# Relative, so the "Original file" comments in the output do not name this machine's paths.
health_dir="$(cd "$root" && node -p 'const p = require("path"); p.relative(process.cwd(), p.resolve(require("grpc-health-check").protoPath, "../../.."))')"

# The directory is wiped first: only accept one named "generated".
if [[ "$(basename "$out")" != "generated" ]]; then
  echo "gen-proto: refusing to write into $out (the output dir must be named generated)" >&2
  exit 2
fi
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

echo "generated $(find "$out" -name '*.ts' | wc -l) files in ${out#"$root"/}" >&2

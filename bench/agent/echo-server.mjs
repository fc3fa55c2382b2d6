// A gRPC server with one unary method that answers every call with the same fixed message of
// argv[2] bytes: the floor of any unary call of that response size, next to which the bench puts
// the agent's GetInventory. Plain JavaScript on @grpc/grpc-js, no interceptors. Prints `PORT n`.
import * as grpc from "@grpc/grpc-js";

const payload = Buffer.alloc(Number(process.argv[2] ?? 1024), 0x61);
const identity = (value) => value;
const server = new grpc.Server();
server.addService(
  { Echo: { path: "/bench.Echo/Echo", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
  { Echo: (_call, callback) => callback(null, payload) },
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`PORT ${port}\n`);
});
process.on("SIGTERM", () => server.forceShutdown());

export { startLocalNatsServer, findNatsServerBinary, type LocalNatsServer, type LocalNatsOptions } from "./local-server.ts";

/** Network addresses. */
export { splitHostPort, type HostPort } from "./host-port.ts";

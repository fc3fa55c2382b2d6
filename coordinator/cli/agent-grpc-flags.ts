import { Option, type Command } from "commander";
import type { AgentClientOptions } from "../../shared/proto/index.ts";

export interface AgentGrpcFlags {
  agentInsecure?: boolean;
  agentCa?: string;
  agentCert?: string;
  agentKey?: string;
  agentToken?: string;
}

/** How the coordinator reaches the agents' gRPC health service (the rollout's health gate). */
export function withAgentGrpcOptions(command: Command): Command {
  return command
    .option("--agent-insecure", "plaintext gRPC to agents (only agents listening on loopback accept it)")
    .option("--agent-ca <file>", "CA (PEM) of the agents' certificates")
    .option("--agent-cert <file>", "client certificate (PEM) for agents requiring mutual TLS")
    .option("--agent-key <file>", "key (PEM) of --agent-cert")
    .addOption(new Option("--agent-token <token>", "bearer token the agents require").env("HOIST_AGENT_TOKEN"));
}

export function agentGrpcFromFlags(flags: AgentGrpcFlags): AgentClientOptions {
  return {
    ...(flags.agentInsecure ? { insecure: true } : {}),
    ...(flags.agentCa ? { caFile: flags.agentCa } : {}),
    ...(flags.agentCert ? { certFile: flags.agentCert } : {}),
    ...(flags.agentKey ? { keyFile: flags.agentKey } : {}),
    ...(flags.agentToken ? { token: flags.agentToken } : {}),
  };
}

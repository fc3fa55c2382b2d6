// Original file: proto/hoist/agent/v1/agent.proto


/**
 * Asks for the node's inventory. No fields yet.
 */
export interface GetInventoryRequest {
}

/**
 * Asks for the node's inventory. No fields yet.
 */
export interface GetInventoryRequest__Output {
}

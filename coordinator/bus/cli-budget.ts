/** How long operator commands (status, inventory, controls) retry NATS trouble before a clear error. */
export const CLI_BUS_BUDGET_MS = 20_000;

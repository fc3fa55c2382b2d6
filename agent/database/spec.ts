/** A database of a service (see `databases:` in the agent config). */
export interface DatabaseSpec {
  name: string;
  engine: "postgresql" | "mariadb" | "mysql";
  database: string;
  host?: string | undefined;
  port?: number | undefined;
  socket?: string | undefined;
  user?: string | undefined;
  passwordFile?: string | undefined;
  maintenanceDatabase?: string | undefined;
  timeoutMs: number;
}

/** Rows per table (`schema.table` for PostgreSQL, `table` for MariaDB); null: it changed while the dump ran, so it is not checked. */
export type TableRowCounts = Record<string, number | null>;

/** How the database tools run: aborted with the step, written down in the process ledger. */
export interface DatabaseRunContext {
  signal?: AbortSignal | undefined;
  tracker?: import("../exec/index.ts").ProcessTracker | undefined;
}

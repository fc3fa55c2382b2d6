import type { Command } from "commander";
import { withBusOptions, type BusFlags } from "./bus-options.ts";
import { dashboardListen, withHttpOptions, type HttpFlags } from "./http-flags.ts";

/** Where `hoist dashboard` listens without --http. */
const DEFAULT_DASHBOARD_ADDRESS = "127.0.0.1:8080";

/** `hoist dashboard --http ADDR`: the live web dashboard alone, on the control plane's NATS (no rollouts driven here). */
export function registerDashboardCommand(program: Command): void {
  withHttpOptions(withBusOptions(program.command("dashboard")), "where to serve the dashboard (default 127.0.0.1:8080)")
    .description("serve the live web dashboard (fleet, rollouts, live events, pause/resume/abort/promote) without driving rollouts")
    .option("--stale-after-ms <ms>", "flag nodes not seen for this long", "15000")
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .action(async (flags: BusFlags & HttpFlags & { staleAfterMs: string; logLevel: string }) => {
      const http = dashboardListen(flags.http ?? DEFAULT_DASHBOARD_ADDRESS, flags.httpToken);
      // Loaded when the command runs, not when `hoist` starts (see cli/main.ts).
      const [{ createLogger }, { openBus }, { startDashboard }] = await Promise.all([import("../../shared/logger/index.ts"), import("../bus/open-bus.ts"), import("../dashboard/server.ts")]);
      const logger = createLogger({ level: flags.logLevel });
      const bus = await openBus(flags, "hoist dashboard", { reconnectForever: true });
      try {
        const dashboard = await startDashboard({ bus, logger, ...http, staleAfterMs: Number(flags.staleAfterMs) });
        process.stdout.write(`dashboard on ${dashboard.url}\n`);
        await new Promise<void>((resolve) => {
          process.once("SIGTERM", () => resolve());
          process.once("SIGINT", () => resolve());
        });
        await dashboard.stop();
      } finally {
        await bus.close();
      }
    });
}

import { userInfo } from "node:os";
import { dirname } from "node:path";

/**
 * PATH given to every hook, probe and migration: the directory of the running node binary first
 * (so `node` and scripts with `#!/usr/bin/env node` find the same runtime as the agent), then the
 * usual system dirs. The agent's own PATH is not passed on.
 */
export const CLEAN_PATH = `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/**
 * The whole environment of a command Hoist runs: PATH, LANG and HOME, then `extra` (the service's
 * configured env, which may override any of them). Nothing of `process.env` leaks in, so a hook
 * behaves the same whether the agent runs under systemd, from a shell or in a test.
 *
 * HOME is the agent user's home directory from the password database (`os.userInfo()`, which
 * does not read `$HOME`), the value systemd and `sudo -H` give a service; `/` when there is none.
 * It is not the release dir, so tools that write dotfiles do not scribble into releases.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: CLEAN_PATH, LANG: "C.UTF-8", HOME: userHome(), ...extra };
}

let cachedHome: string | undefined;

function userHome(): string {
  if (cachedHome === undefined) {
    try {
      cachedHome = userInfo().homedir || "/";
    } catch {
      cachedHome = "/";
    }
  }
  return cachedHome;
}

import { readFileSync } from "node:fs";
import { HoistError } from "../../shared/errors/index.ts";

/** A system account to run a child as. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * Looks `user` up in /etc/passwd (a name, or a numeric uid). The child then runs with its uid and
 * primary gid (supplementary groups are dropped), HOME, USER and LOGNAME.
 * @throws HoistError HOOK_FAILED when the user does not exist, or when this process may not switch
 *   to it (only root can run a child as another user).
 */
export function resolveRunAs(user: string): RunAs {
  const entry = passwdEntries().find((candidate) => candidate.name === user || (/^\d+$/.test(user) && candidate.uid === Number(user)));
  if (!entry) throw new HoistError("HOOK_FAILED", `cannot run as user ${user}: no such user in /etc/passwd; create it or fix \`user:\` in the agent config`, { details: { user } });
  const self = process.getuid?.();
  if (self !== undefined && self !== 0 && self !== entry.uid) {
    throw new HoistError("HOOK_FAILED", `cannot run as user ${user}: the agent runs as uid ${self}, and only root may start a process as another user`, { details: { user, uid: entry.uid } });
  }
  return entry;
}

function passwdEntries(): RunAs[] {
  let text: string;
  try {
    text = readFileSync("/etc/passwd", "utf8");
  } catch {
    return [];
  }
  return text.split("\n").flatMap((line) => {
    const [name, , uid, gid, , home] = line.split(":");
    if (!name || uid === undefined || gid === undefined) return [];
    return [{ name, uid: Number(uid), gid: Number(gid), home: home ?? "/" }];
  });
}

import { WEEKDAYS, type MaintenanceWindow } from "./schema.ts";

const DAY_MS = 86_400_000;

/** Where `now` stands in a window: open (may start until `startsUntil`), or closed until `opensAt`. */
export type WindowPosition = { open: true; startsUntil: number; closesAt: number } | { open: false; opensAt: number };

interface WallClock {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", weekday: "short" });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall-clock fields of instant `at` in `timeZone` (Intl, so DST and tzdata come from the runtime). */
function wallClock(at: number, timeZone: string): WallClock & { hour: number; minute: number; second: number } {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday as (typeof WEEKDAYS)[number]),
  };
}

/** Offset of `timeZone` from UTC at instant `at`, in ms (Berlin in summer: +2 h). */
function offsetAt(at: number, timeZone: string): number {
  const wall = wallClock(at, timeZone);
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) - Math.floor(at / 1000) * 1000;
}

/**
 * The instant the wall clock in `timeZone` shows `date` at `hour:minute`. In a DST gap (a time that
 * does not exist that day) it lands just after the gap; in a fold (a time shown twice) on one of the two.
 */
function instantOf(date: WallClock, hour: number, minute: number, second: number, timeZone: string): number {
  const guess = Date.UTC(date.year, date.month - 1, date.day, hour, minute, second);
  const firstOffset = offsetAt(guess, timeZone);
  const at = guess - firstOffset;
  const secondOffset = offsetAt(at, timeZone);
  return secondOffset === firstOffset ? at : Math.max(at, guess - secondOffset);
}

/** The local calendar date `days` after the local date of `now` in `timeZone` (calendar arithmetic, DST-proof). */
function localDate(now: number, days: number, timeZone: string): WallClock {
  const today = wallClock(now, timeZone);
  const date = new Date(Date.UTC(today.year, today.month - 1, today.day + days));
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), weekday: date.getUTCDay() };
}

/** The starts of the window's openings whose local date lies within `fromDay`..`toDay` days of `now`'s, ascending. */
function openingsAround(window: MaintenanceWindow, now: number, fromDay: number, toDay: number): number[] {
  const [hour = 0, minute = 0, second = 0] = window.start.split(":").map(Number);
  const everyDay = window.days.includes("*");
  const starts: number[] = [];
  for (let offset = fromDay; offset <= toDay; offset++) {
    const date = localDate(now, offset, window.timezone);
    if (!everyDay && !window.days.includes(WEEKDAYS[date.weekday]!)) continue;
    starts.push(instantOf(date, hour, minute, second, window.timezone));
  }
  return starts;
}

/**
 * Whether a node may start now under `window`: open when an opening began at or before `now` and
 * `now` is before its end minus the cutoff; else the next moment one opens (starts are computed in
 * the window's time zone for each local date, so they follow DST).
 */
export function windowPosition(window: MaintenanceWindow, now: number): WindowPosition {
  const lookBack = Math.ceil(window.duration / DAY_MS) + 1;
  const starts = openingsAround(window, now, -lookBack, 8);
  for (const start of starts) {
    const closesAt = start + window.duration;
    const startsUntil = closesAt - window.cutoff;
    if (start <= now && now < startsUntil) return { open: true, startsUntil, closesAt };
  }
  const next = starts.find((start) => start > now);
  // Days always name at least one weekday, so 8 days ahead always holds an opening.
  return { open: false, opensAt: next ?? now + 7 * DAY_MS };
}

/** The openings of `window` that start within [from, to), for forecasts (plan --simulate). */
export function openingsBetween(window: MaintenanceWindow, from: number, to: number): { start: number; startsUntil: number }[] {
  const days = Math.ceil((to - from) / DAY_MS) + 1;
  const lookBack = Math.ceil(window.duration / DAY_MS) + 1;
  return openingsAround(window, from, -lookBack, days)
    .map((start) => ({ start, startsUntil: start + window.duration - window.cutoff }))
    .filter((opening) => opening.startsUntil > from && opening.start < to);
}

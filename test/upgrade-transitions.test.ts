import { describe, expect, it } from "vitest";
import { nextAfterStep, nextOnResume } from "../agent/upgrade/transitions.ts";
import type { StepName } from "../agent/upgrade/steps.ts";

describe("nextAfterStep", () => {
  it.each<[StepName, boolean, boolean, string]>([
    ["stage", true, false, "drain"],
    ["drain", true, false, "stop"],
    ["stop", true, true, "snapshot"],
    ["snapshot", true, true, "switch"],
    ["switch", true, true, "migrate"],
    ["migrate", true, true, "start"],
    ["start", true, true, "verify"],
    ["verify", true, true, "rejoin"],
    ["rejoin", true, true, "commit"],
    ["commit", true, true, "committed"],
    ["stage", false, false, "aborted"],
    ["drain", false, false, "rb-rejoin"],
    ["stop", false, true, "rb-stop"],
    ["snapshot", false, true, "rb-stop"],
    ["switch", false, true, "rb-stop"],
    ["migrate", false, true, "rb-stop"],
    ["start", false, true, "rb-stop"],
    ["verify", false, true, "rb-stop"],
    ["rejoin", false, true, "rb-stop"],
    ["rb-stop", true, true, "rb-restore"],
    ["rb-restore", true, true, "rb-switch"],
    ["rb-switch", true, true, "rb-start"],
    ["rb-start", true, true, "rb-verify"],
    ["rb-verify", true, true, "rb-rejoin"],
    ["rb-rejoin", true, true, "rolled-back"],
    ["rb-rejoin", true, false, "aborted"],
    ["rb-restore", false, true, "failed"],
    ["rb-verify", false, true, "failed"],
  ])("%s ok=%s stopped=%s -> %s", (step, ok, stopped, expected) => {
    expect(nextAfterStep({ step, stopped }, ok)).toBe(expected);
  });
});

describe("nextAfterStep with online migrations (when: before-stop)", () => {
  it.each<[StepName, boolean, boolean, string, string]>([
    ["drain", true, false, "stop", "migrate-online"],
    ["migrate-online", true, false, "stop", "stop"],
    ["migrate-online", false, false, "stop", "rb-rejoin"],
    ["drain", true, false, "drain", "migrate-online"],
    ["snapshot", true, false, "drain", "drain"],
  ])("%s ok=%s stopped=%s snapshot before %s -> %s", (step, ok, stopped, snapshotBefore, expected) => {
    expect(nextAfterStep({ step, stopped, onlineMigrations: true, snapshotBefore: snapshotBefore as "stop" | "drain" }, ok)).toBe(expected);
  });

  it("a crash inside the online migration re-runs it on resume (the old release still serves; done migrations are skipped)", () => {
    expect(nextOnResume({ step: "migrate-online", stepStatus: "started", stopped: false, resumes: 0, onlineMigrations: true }, 3)).toBe("migrate-online");
    expect(nextOnResume({ step: "drain", stepStatus: "done", stopped: false, resumes: 0, onlineMigrations: true }, 3)).toBe("migrate-online");
  });
});

describe("nextAfterStep with validate (the new release on scratch data first)", () => {
  it.each<[StepName, boolean, string]>([
    ["stage", true, "validate"],
    ["validate", true, "drain"],
    ["validate", false, "aborted"],
  ])("%s ok=%s -> %s", (step, ok, expected) => {
    expect(nextAfterStep({ step, stopped: false, validate: true }, ok)).toBe(expected);
  });
});

describe("nextAfterStep for a patch hop (stage, patch, commit)", () => {
  it.each<[StepName, boolean, boolean, string]>([
    ["stage", true, false, "patch"],
    ["patch", true, false, "commit"],
    ["patch", false, true, "rolled-back"],
    ["patch", false, false, "failed"],
  ])("%s ok=%s undone=%s -> %s", (step, ok, patchUndone, expected) => {
    expect(nextAfterStep({ step, stopped: false, patch: true, patchUndone }, ok)).toBe(expected);
  });
});

describe("nextOnResume", () => {
  it.each<[StepName, "started" | "done", boolean, number, string]>([
    ["stage", "started", false, 0, "stage"],
    ["stage", "done", false, 0, "drain"],
    ["drain", "started", false, 0, "drain"],
    ["drain", "done", false, 0, "stop"],
    ["stop", "started", true, 0, "rb-stop"],
    ["stop", "done", true, 0, "rb-stop"],
    ["switch", "started", true, 1, "rb-stop"],
    ["migrate", "done", true, 0, "rb-stop"],
    ["verify", "started", true, 0, "rb-stop"],
    ["rejoin", "done", true, 0, "commit"],
    ["commit", "started", true, 0, "commit"],
    ["commit", "done", true, 0, "committed"],
    ["rb-restore", "started", true, 0, "rb-restore"],
    ["rb-restore", "done", true, 0, "rb-switch"],
    ["rb-start", "done", true, 2, "rb-verify"],
    ["rb-rejoin", "done", true, 0, "rolled-back"],
    ["rb-rejoin", "done", false, 0, "aborted"],
    ["migrate", "started", true, 3, "crash-loop"],
    ["rb-restore", "started", true, 3, "crash-loop"],
  ])("interrupted at %s (%s, stopped=%s) after %d resumes -> %s", (step, stepStatus, stopped, resumes, expected) => {
    expect(nextOnResume({ step, stepStatus, stopped, resumes }, 3)).toBe(expected);
  });
});

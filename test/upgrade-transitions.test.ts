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

describe("nextOnResume", () => {
  it.each<[StepName, number, string]>([
    ["stage", 0, "stage"],
    ["drain", 0, "drain"],
    ["stop", 0, "rb-stop"],
    ["switch", 1, "rb-stop"],
    ["migrate", 0, "rb-stop"],
    ["verify", 0, "rb-stop"],
    ["commit", 0, "commit"],
    ["rb-restore", 0, "rb-restore"],
    ["rb-start", 2, "rb-start"],
    ["migrate", 3, "crash-loop"],
    ["rb-restore", 3, "crash-loop"],
  ])("interrupted at %s after %d resumes -> %s", (step, resumes, expected) => {
    expect(nextOnResume({ step, stopped: true, resumes }, 3)).toBe(expected);
  });
});

/** Profile generations read from disk are input like any other: a crafted one is skipped, never written from. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { readGenerations } from "../../src/inputs/profile/generations.js";
import { tempDir } from "../helpers.js";

const app = (name: string) => ({ name, reference: "r", pinned: "p", commit: "c", installedAt: "d", cacheDir: "/c", script: "/s", roots: [] });

describe("readGenerations", () => {
  test("a generation whose app name is a path, or whose number does not match its directory, is skipped", () => {
    const profile = tempDir("profile-");
    const write = (n: string, value: unknown) => {
      mkdirSync(join(profile, "generations", n), { recursive: true });
      writeFileSync(join(profile, "generations", n, "generation.json"), JSON.stringify(value));
    };
    write("1", { number: 1, createdAt: "t", note: "ok", apps: [app("hello")] });
    write("2", { number: 2, createdAt: "t", note: "crafted", apps: [app("../../outside")] });
    write("3", { number: 4, createdAt: "t", note: "wrong number", apps: [] });
    expect(readGenerations(profile).map((g) => g.note)).toEqual(["ok"]);
  });
});

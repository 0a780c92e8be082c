/**
 * The layering the project promises: the spec layer imports nothing else of
 * the project, the sparse core only the spec layer, and nothing on the edge
 * path (export, inference, data, core, spec) or in the CPU engine reaches
 * tfjs, even indirectly.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

/** Specifiers imported by a source file (static and dynamic imports, re-exports). */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, file));
  const found = text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s*["']([^"']+)["']/g);
  const dynamic = text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g);
  return [...found, ...dynamic].map((m) => m[1]);
}

function resolve(from: string, specifier: string): string | undefined {
  return specifier.startsWith(".") ? join(dirname(from), specifier) : undefined;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every bare (package) specifier reachable from `file`, with the path that reaches it. */
async function reachablePackages(file: string): Promise<Map<string, string>> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const stack: [string, string][] = [[file, file]];
  while (stack.length > 0) {
    const [current, trail] = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    for (const specifier of await importsOf(current)) {
      const next = resolve(current, specifier);
      if (next) stack.push([next, `${trail} → ${next}`]);
      else if (!packages.has(specifier)) packages.set(specifier, trail);
    }
  }
  return packages;
}

Deno.test("src/spec imports nothing of the project outside src/spec", async () => {
  for (const file of await filesUnder("src/spec")) {
    for (const specifier of await importsOf(file)) {
      const target = resolve(file, specifier);
      if (target) assert.ok(target.startsWith("src/spec/"), `${file} imports ${target}`);
      else assert.ok(specifier.startsWith("node:"), `${file} imports the package ${specifier}`);
    }
  }
});

Deno.test("src/core imports only src/core and src/spec, and no package", async () => {
  for (const file of await filesUnder("src/core")) {
    for (const specifier of await importsOf(file)) {
      const target = resolve(file, specifier);
      assert.ok(target, `${file} imports the package ${specifier}`);
      assert.ok(
        target.startsWith("src/core/") || target.startsWith("src/spec/"),
        `${file} imports ${relative("src/core", target)}`,
      );
    }
  }
});

Deno.test("export, inference, the engine, data, core and spec never reach tfjs", async () => {
  const edge = (await Promise.all(
    ["export", "src/infer", "src/engine", "src/data", "src/core", "src/spec", "cli/infer.ts"].map((
      p,
    ) => p.endsWith(".ts") ? [p] : filesUnder(p)),
  )).flat();
  assert.ok(edge.length > 20);
  for (const file of edge) {
    for (const [specifier, trail] of await reachablePackages(file)) {
      assert.ok(!specifier.includes("tensorflow"), `${trail} imports ${specifier}`);
    }
  }
});

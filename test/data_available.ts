/**
 * Tests against real datasets that the repository does not ship. They read
 * `../shared/datasets/` beside the repository; on a clone without it they
 * are reported as ignored, by name, so a newcomer's `deno task test` passes.
 * CI must not skip them silently: with `CI=true` or `SPARROW_REQUIRE_DATA=1`
 * they run, and fail when the data is missing. `SPARROW_REQUIRE_DATA=0`
 * overrides `CI`.
 *
 * ```ts ignore
 * const ptb = realDataset("ptb");
 * Deno.test({ name: "real PTB ...", ignore: ptb.ignore, async fn() {
 *   ptb.assertPresent();
 *   await readLanguageModelData(ptb.path);
 * } });
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Not test/helpers.ts's REPO_ROOT: that module loads tfjs, which data tests do not need.
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Where the real datasets live, relative to the repository root. */
export const SHARED_DATASETS = "../shared/datasets";

/** A real dataset and whether the tests that read it run. */
export interface RealDataset {
  /** Its absolute path. */
  path: string;
  /** Whether it exists. */
  present: boolean;
  /** Whether the environment demands it (CI). */
  required: boolean;
  /** Pass as `Deno.test`'s `ignore`: absent and not required. */
  ignore: boolean;
  /** Throws, naming the path and the fix, when it is absent; call first in the test. */
  assertPresent(): void;
}

/**
 * The dataset at `../shared/datasets/<relative>`. `env` and `root` are for
 * testing this function; tests pass only `relative`.
 */
export function realDataset(
  relative: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  root: string = REPO_ROOT,
): RealDataset {
  const path = resolve(root, SHARED_DATASETS, relative);
  const present = exists(path);
  const flag = env("SPARROW_REQUIRE_DATA");
  const required = flag !== undefined && flag !== "" ? flag === "1" : env("CI") === "true";
  return {
    path,
    present,
    required,
    ignore: !present && !required,
    assertPresent() {
      if (present) return;
      throw new Error(
        `${path} does not exist, and this run requires the real datasets (CI=true or SPARROW_REQUIRE_DATA=1); put the shared datasets beside the repository, or unset those to report this test as ignored`,
      );
    },
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

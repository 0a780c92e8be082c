import assert from "node:assert/strict";
import { join } from "node:path";
import { realDataset } from "../data_available.ts";

function env(vars: Record<string, string | undefined>) {
  return (name: string) => vars[name];
}

Deno.test("an absent real dataset is ignored, unless CI or SPARROW_REQUIRE_DATA requires it", async () => {
  const root = await Deno.makeTempDir({ prefix: "sparrow-repo-" });
  try {
    const absent = realDataset("ptb", env({}), join(root, "repo"));
    assert.equal(absent.path, join(root, "shared", "datasets", "ptb"));
    assert.equal(absent.present, false);
    assert.equal(absent.ignore, true);

    for (const vars of [{ CI: "true" }, { SPARROW_REQUIRE_DATA: "1" }]) {
      const required = realDataset("ptb", env(vars), join(root, "repo"));
      assert.equal(required.ignore, false, JSON.stringify(vars));
      assert.throws(() => required.assertPresent(), /shared\/datasets\/ptb does not exist/);
    }
    // An explicit 0 wins over CI, e.g. for a CI job without the data.
    const optOut = realDataset(
      "ptb",
      env({ CI: "true", SPARROW_REQUIRE_DATA: "0" }),
      join(root, "repo"),
    );
    assert.equal(optOut.ignore, true);

    await Deno.mkdir(join(root, "shared", "datasets", "ptb"), { recursive: true });
    for (const vars of [{}, { CI: "true" }]) {
      const present = realDataset("ptb", env(vars), join(root, "repo"));
      assert.equal(present.ignore, false);
      present.assertPresent();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

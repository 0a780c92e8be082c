import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CHECKS = fileURLToPath(new URL("../.ci/checks", import.meta.url));

/**
 * A stand-in for Deno: `task check` exits with $FAKE_CHECK, `task build:kernels --check`
 * with 0, `task test` prints the variable that requires real data and a runner summary,
 * and exits with $FAKE_TEST.
 */
const FAKE_DENO = `#!/usr/bin/env bash
case "$2" in
  check) echo "checked"; exit "$FAKE_CHECK" ;;
  build:kernels) [ "$3" = --check ] && echo "kernels checked" && exit 0 ;;
  test)
    echo "SPARROW_REQUIRE_DATA=$SPARROW_REQUIRE_DATA"
    if [ "$FAKE_TEST" = 0 ]; then echo "ok | 3 passed | 0 failed (1s)"; else echo "FAILED | 2 passed | 1 failed (1s)"; fi
    exit "$FAKE_TEST" ;;
esac
exit 9
`;

async function runChecks(fake: string, check: number, test: number) {
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    FAKE_CHECK: String(check),
    FAKE_TEST: String(test),
  };
  // .ci/checks sets it; a developer's own setting must not decide this test.
  delete env.SPARROW_REQUIRE_DATA;
  const output = await new Deno.Command("bash", { args: [CHECKS, fake], env }).output();
  return {
    code: output.code,
    lines: new TextDecoder().decode(output.stdout).trimEnd().split("\n"),
  };
}

Deno.test(".ci/checks runs the check task and the tests, requires real data, and sums up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-ci-" });
  try {
    const fake = join(dir, "deno");
    await Deno.writeTextFile(fake, FAKE_DENO);
    await Deno.chmod(fake, 0o755);

    const good = await runChecks(fake, 0, 0);
    assert.equal(good.code, 0, good.lines.join("\n"));
    assert.ok(good.lines.includes("checked"));
    assert.ok(good.lines.includes("kernels checked"));
    assert.ok(good.lines.includes("SPARROW_REQUIRE_DATA=1"));
    assert.deepEqual(good.lines.slice(-3), [
      "check: ok",
      "kernels: ok",
      "tests: 3 passed, 0 failed",
    ]);

    // A failed check fails the run, and the tests still run.
    const unformatted = await runChecks(fake, 1, 0);
    assert.equal(unformatted.code, 1);
    assert.deepEqual(unformatted.lines.slice(-3), [
      "check: FAILED",
      "kernels: ok",
      "tests: 3 passed, 0 failed",
    ]);

    const failing = await runChecks(fake, 0, 1);
    assert.equal(failing.code, 1);
    assert.deepEqual(failing.lines.slice(-3), [
      "check: ok",
      "kernels: ok",
      "tests: 2 passed, 1 failed",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The fuzzer (tools/fuzz/) in CI: a few thousand cases with a fixed seed and with a random one
// (printed, so a failure can be replayed with `deno task fuzz --seed S --case I`), the fuzzer's
// own parts, and the front-end bugs it found.
import assert from "node:assert/strict";
import { parse } from "../grammar/index.ts";
import { checkText } from "../src/check.ts";
import { formatDiagnostics } from "../src/diagnostics.ts";
import { caseRng, FIELDS, nextFloat, probes } from "../tools/fuzz/language.ts";
import { LANGUAGE } from "../src/check.ts";
import { describeFailure, fuzz, newSummary, runCase } from "../tools/fuzz/run.ts";
import { frontEnd, lspServer } from "../tools/fuzz/targets.ts";

async function run(seed: number, count: number) {
  const s = await fuzz(seed, count, { maxFailures: 1 });
  assert.deepEqual(s.failures.map(describeFailure), []);
  assert.equal(s.files, count);
  assert.equal(s.accepted + s.rejected, count);
  // Both verdicts occur: generated files are accepted, mutations mostly rejected.
  assert.ok(s.accepted > count / 10 && s.rejected > count / 10, JSON.stringify(s));
  assert.ok(s.npyAccepted > 0 && s.npyAccepted < s.npyFiles, JSON.stringify(s));
}

Deno.test("fuzz: 2000 cases with seed 1", () => run(1, 2000));

Deno.test("fuzz: 2000 cases with a random seed", async () => {
  const seed = crypto.getRandomValues(new Uint32Array(1))[0];
  console.log(`fuzz seed ${seed} (replay: deno task fuzz --seed ${seed} --count 2000)`);
  await run(seed, 2000);
});

Deno.test("fuzz: a case is a function of (seed, index)", () => {
  const a = caseRng(7, 3);
  const b = caseRng(7, 3);
  assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  assert.notEqual(caseRng(7, 4).next(), caseRng(7, 3).next());
  assert.equal(runCase(7, 3, newSummary(7)), runCase(7, 3, newSummary(7)));
});

Deno.test("fuzz: number probes straddle each rule's bounds, read from LANGUAGE", () => {
  assert.ok(FIELDS.length >= 7 && FIELDS.every((f) => Object.hasOwn(LANGUAGE, f)));
  const seed = LANGUAGE.similarity.kind === "part" &&
    LANGUAGE.similarity.parts.features.args.seed;
  assert.ok(seed && seed.kind === "number");
  const p = probes(seed.rule);
  assert.ok(p.valid.includes(0) && p.valid.includes(4294967295));
  assert.ok(p.invalid.includes(4294967296) && p.invalid.includes(-1));
  assert.ok(p.invalid.includes(nextFloat(0, -1)));
  assert.equal(nextFloat(1, 1), 1 + Number.EPSILON);
});

Deno.test("fuzz: the front-end target tells accepted from rejected files", () => {
  assert.equal(frontEnd("model m { beta 2 }", {}).failure, undefined);
  assert.equal(frontEnd("model m { beta 2 }", {}).accepted, true);
  assert.equal(frontEnd("model m { beta -2 }", {}).accepted, false);
});

Deno.test("fuzz: the LSP server target answers every request on good and bad text", async () => {
  const rng = caseRng(1, 1);
  for (const text of ["model m { entropy tsallis(alpha = 1.5) }", "model {{ ((( \uD800", ""]) {
    assert.equal(await lspServer(text, rng), undefined);
  }
});

// Bugs the fuzzer found.

Deno.test("bug: a diagnostic on a line ended by a lone \\r prints that line", () => {
  const text = "model m {\r  beta -1\r}\r";
  const { diagnostics } = checkText(text, "t.hop");
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].line, 2);
  const printed = formatDiagnostics(diagnostics, new Map([["t.hop", text]])).split("\n");
  assert.equal(printed[1], "    beta -1");
  assert.equal(printed[2], "         ^^");
});

Deno.test("bug: thousands of syntax errors take linear time, not quadratic", () => {
  // 9000 repeated arguments after an unclosed `(`: 1.7 s before, a search per error.
  const text = `model m { steps until(tol tsallis(${"alpha = 2, ".repeat(9000)}) }`;
  const t0 = performance.now();
  const { diagnostics } = parse(text, "t.hop");
  const ms = performance.now() - t0;
  assert.ok(diagnostics.length > 1000);
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
});

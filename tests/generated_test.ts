// generated/ is the committed output of compiling examples/: it must match what the compiler
// writes now, and a generated module must run its model with no help from the compiler.
import { type AhopFit, asMapFit } from "../src/fit/store.ts";
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import { emitModels, runtimeFiles } from "../src/compile/emit.ts";
import { gpuUnsupported } from "../src/plan/plan.ts";
import { loadReference, retrieveReference } from "../src/reference/interpreter.ts";
import { acquireDevice } from "../src/runtime/device.ts";

const root = new URL("../", import.meta.url);

async function expectedFiles(): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  const examples = [...Deno.readDirSync(new URL("examples/", root))]
    .filter((e) => e.name.endsWith(".hop")).map((e) => e.name).sort();
  for (const name of examples) {
    const text = await Deno.readTextFile(new URL(`examples/${name}`, root));
    const { models, diagnostics } = checkText(text, `examples/${name}`);
    assert.deepEqual(diagnostics, []);
    for (const [file, content] of emitModels(models, `examples/${name}`).files) {
      assert.ok(!all.has(file), `two examples define a model that writes generated/${file}`);
      all.set(file, content);
    }
  }
  for (const [name, text] of await runtimeFiles()) all.set(name, text);
  return all;
}

Deno.test("generated/ is up to date with examples/ (run `deno task examples` if this fails)", async () => {
  const expected = await expectedFiles();
  const present = new Set<string>();
  for (const e of Deno.readDirSync(new URL("generated/", root))) {
    if (!e.isDirectory) present.add(e.name);
    else {
      for (const f of Deno.readDirSync(new URL(`generated/${e.name}/`, root))) {
        present.add(`${e.name}/${f.name}`);
      }
    }
  }
  for (const [file, content] of expected) {
    assert.ok(present.has(file), `generated/${file} is missing`);
    const actual = await Deno.readTextFile(new URL(`generated/${file}`, root));
    assert.ok(actual === content, `generated/${file} is stale`);
  }
  for (const file of present) {
    assert.ok(expected.has(file), `generated/${file} comes from no example`);
  }
});

// Discrete (the kernel reads X), continuous box + exact (pooled rows fitted at load), continuous
// gaussian (quadrature kernel), and features (W and KV built at load): each module, given only the
// raw memories, agrees with the reference.
for (
  const [file, name] of [
    ["sparse_l2.hop", "sparse_l2"],
    ["continuous.hop", "continuous_box_exact"],
    ["continuous.hop", "continuous_gaussian"],
    ["features.hop", "positive_random_features"],
  ]
) {
  Deno.test(`the generated module of ${name} runs it and agrees with the float64 reference`, async () => {
    const ctx = await acquireDevice();
    const text = await Deno.readTextFile(new URL(`examples/${file}`, root));
    const model = checkText(text, `examples/${file}`).models.find((m) => m.name === name)!;
    assert.equal(gpuUnsupported(model), null);
    const mod = await import(new URL(`generated/${name}.ts`, root).href);
    const M = 40, D = 10, B = 3;
    const X = Float64Array.from(
      { length: M * D },
      (_, i) => Math.sin(1.7 * i) + Math.cos(0.3 * i * i),
    );
    const Q = Float64Array.from({ length: B * D }, (_, i) => X[i] + 0.2 * Math.sin(5.1 * i));
    const memory = await mod.load(ctx.device, X, M, D);
    const { states } = await memory.retrieve(Q, B);
    memory.destroy();
    const ref = retrieveReference(model, { rows: M, cols: D, data: X }, {
      rows: B,
      cols: D,
      data: Q,
    });
    const scale = Math.max(...ref.states.data.map(Math.abs));
    const err = Math.max(...ref.states.data.map((v, i) => Math.abs(v - states[i])));
    assert.ok(err <= 1e-4 * scale, `max error ${err} vs scale ${scale}`);
  });
}

Deno.test("overlapping retrieve calls on one loaded memory each get their own answer", async () => {
  const ctx = await acquireDevice();
  const mod = await import(new URL("generated/sparse_l2.ts", root).href);
  const M = 24, D = 8;
  const X = Float64Array.from({ length: M * D }, (_, i) => Math.sin(0.9 * i) + Math.cos(0.4 * i));
  const memory = await mod.load(ctx.device, X, M, D);
  const queries = [0, 5, 11].map((m) => X.slice(m * D, (m + 1) * D));
  const together = await Promise.all(queries.map((q) => memory.retrieve(q, 1)));
  for (const [k, q] of queries.entries()) {
    const alone = await memory.retrieve(q, 1);
    assert.deepEqual(Array.from(together[k].states), Array.from(alone.states));
  }
  memory.destroy();
});

Deno.test("a generated module reads values apart from the keys and clamps dims (src/extras.ts)", async () => {
  const ctx = await acquireDevice();
  const text = await Deno.readTextFile(new URL("examples/sparse_l2.hop", root));
  const model = checkText(text, "examples/sparse_l2.hop").models.find((m) =>
    m.name === "sparse_l2"
  )!;
  const mod = await import(new URL("generated/sparse_l2.ts", root).href);
  const M = 30, D = 8, B = 4, Dv = 3;
  const X = Float64Array.from({ length: M * D }, (_, i) => Math.sin(1.3 * i) + Math.cos(0.7 * i));
  const Q = Float64Array.from({ length: B * D }, (_, i) => X[i] + 0.2 * Math.sin(3.1 * i));
  const V = Float64Array.from({ length: M * Dv }, (_, i) => Math.cos(2.3 * i));
  const C = Float64Array.from({ length: D }, (_, d) => d % 2);
  const memory = await mod.load(ctx.device, X, M, D);
  const { states } = await memory.retrieve(Q, B, { values: { data: V, cols: Dv }, clamp: C });
  memory.destroy();
  const ref = retrieveReference(
    model,
    { rows: M, cols: D, data: X },
    {
      rows: B,
      cols: D,
      data: Q,
    },
    undefined,
    {
      values: { rows: M, cols: Dv, data: V },
      clamp: { rows: 1, cols: D, data: C },
    },
  );
  assert.equal(states.length, B * Dv);
  const scale = Math.max(...ref.states.data.map(Math.abs));
  const err = Math.max(...ref.states.data.map((v, i) => Math.abs(v - states[i])));
  assert.ok(err <= 1e-4 * scale, `max error ${err} vs scale ${scale}`);
});

Deno.test("a generated CDAM module takes the memory graph at load (readout project, relax)", async () => {
  const ctx = await acquireDevice();
  const text = await Deno.readTextFile(new URL("examples/cdam.hop", root));
  const model = checkText(text, "examples/cdam.hop").models.find((m) => m.name === "cdam_hetero")!;
  const mod = await import(new URL("generated/cdam_hetero.ts", root).href);
  const M = 12, D = 9, B = 3;
  const X = Float64Array.from({ length: M * D }, (_, i) => Math.abs(Math.sin(1.1 * i)));
  const Q = Float64Array.from({ length: B * D }, (_, i) => X[i] + 0.1 * Math.cos(2.9 * i));
  const A = new Float64Array(M * M);
  for (let i = 0; i < M; i++) A[i * M + (i + 1) % M] = 1; // a directed cycle
  await assert.rejects(() => mod.load(ctx.device, X, M, D), /reads the memory graph/);
  const memory = await mod.load(ctx.device, X, M, D, { graph: A });
  const { states } = await memory.retrieve(Q, B);
  memory.destroy();
  const ref = retrieveReference(
    model,
    { rows: M, cols: D, data: X },
    { rows: B, cols: D, data: Q },
    undefined,
    { graph: { rows: M, cols: M, data: A } },
  );
  const scale = Math.max(...ref.states.data.map(Math.abs));
  const err = Math.max(...ref.states.data.map((v, i) => Math.abs(v - states[i])));
  assert.ok(err <= 1e-4 * scale, `max error ${err} vs scale ${scale}`);
});

Deno.test("a generated learned-similarity module takes the fitted map at load (uhop, kernelized)", async () => {
  const ctx = await acquireDevice();
  const text = await Deno.readTextFile(new URL("examples/learned.hop", root));
  const models = checkText(text, "examples/learned.hop").models;
  const M = 24, D = 6, B = 3;
  const X = Float64Array.from({ length: M * D }, (_, i) => Math.sin(1.3 * i));
  const Q = Float64Array.from({ length: B * D }, (_, i) => X[i] + 0.1 * Math.cos(2.9 * i));
  const Xm = { rows: M, cols: D, data: X }, Qm = { rows: B, cols: D, data: Q };
  for (const name of ["uhop_max", "kernelized_khm"]) {
    const model = models.find((m) => m.name === name)!;
    const mod = await import(new URL(`generated/${name}.ts`, root).href);
    await assert.rejects(() => mod.load(ctx.device, X, M, D), /give its fitted map at load/);
    // The fit the compiler's load makes (the generated module does not fit).
    const loaded = loadReference(model, Xm);
    const { weight: W, bias: b } = asMapFit(loaded.fit!).result.map;
    await assert.rejects(
      () => mod.load(ctx.device, X, M, D, { fit: { W: W.subarray(1), b } }),
      /the fitted map must be/,
    );
    const memory = await mod.load(ctx.device, X, M, D, { fit: { W, b } });
    const { states } = await memory.retrieve(Q, B);
    memory.destroy();
    const ref = retrieveReference(model, Xm, Qm, loaded);
    const scale = Math.max(...ref.states.data.map(Math.abs));
    const err = Math.max(...ref.states.data.map((v, i) => Math.abs(v - states[i])));
    assert.ok(err <= 1e-4 * Math.max(scale, 1), `${name}: max error ${err} vs scale ${scale}`);
  }
});

Deno.test("a generated A-Hop module takes its fit { w, a, b } at load", async () => {
  const ctx = await acquireDevice();
  const text = await Deno.readTextFile(new URL("examples/learned.hop", root));
  const model = checkText(text, "examples/learned.hop").models.find((m) => m.name === "ahop_mask")!;
  const M = 24, D = 6, B = 3;
  const X = Float64Array.from({ length: M * D }, (_, i) => Math.sin(1.3 * i));
  const Q = Float64Array.from({ length: B * D }, (_, i) => X[i] + 0.1 * Math.cos(2.9 * i));
  const Xm = { rows: M, cols: D, data: X }, Qm = { rows: B, cols: D, data: Q };
  const mod = await import(new URL("generated/ahop_mask.ts", root).href);
  await assert.rejects(() => mod.load(ctx.device, X, M, D), /give its fit at load.*\{ w, a, b \}/);
  const loaded = loadReference(model, Xm);
  const fit = loaded.fit as AhopFit;
  const { w, a, b } = fit.params;
  await assert.rejects(
    () => mod.load(ctx.device, X, M, D, { fit: { w: w.subarray(1), a, b } }),
    /footprint weights w must be D = 6 numbers, got 5/,
  );
  const memory = await mod.load(ctx.device, X, M, D, { fit: { w, a, b } });
  const { states } = await memory.retrieve(Q, B);
  memory.destroy();
  const ref = retrieveReference(model, Xm, Qm, loaded);
  const scale = Math.max(...ref.states.data.map(Math.abs));
  const err = Math.max(...ref.states.data.map((v, i) => Math.abs(v - states[i])));
  assert.ok(err <= 1e-4 * Math.max(scale, 1), `ahop_mask: max error ${err} vs scale ${scale}`);
});

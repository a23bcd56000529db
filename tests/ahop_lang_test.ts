// A-Hop's adaptive similarity in the language (issue 12 item 3): `similarity ahop(corrupt, level,
// samples, epochs, lr, scales, seed)` (src/parts/similarity/ahop.ts). The checker's ranges and
// refusals with their places; the fit at load (reproducible from the seed, the model's beta in
// its cross-entropy, saved fits checked against the model and D); the reference's scores are
// ahopScores on the prepared memories; the GPU's footprint pass (src/runtime/blocked/
// wgsl_footprint.ts) against the float64 reference across entropies, masks, separations, posts,
// steps, values, clamp, plan shapes and memories over several buffers, D = 784 once; the plan's
// loop estimates and the workgroup-memory refusal; fits saved and reused through the CLI and the
// library; Tint's validation of the pass.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { loadReference, retrieveReference } from "../src/reference/interpreter.ts";
import { ahopScores, geometricScales } from "../src/fit/ahop.ts";
import { type AhopFit, decodeFit, encodeFit, type StoredFit } from "../src/fit/store.ts";
import { prepareMemories } from "../src/reference/interpreter.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { kernelSpec } from "../src/wgsl/spec.ts";
import { blockedParts } from "../src/wgsl/blocked_parts.ts";
import { planBlocked, PlanError } from "../src/runtime/blocked/plan.ts";
import { assemble, entryPoints } from "../src/runtime/blocked/wgsl.ts";
import { validateTint } from "../src/runtime/validate.ts";
import { DEFAULT_LIMITS } from "../src/plan/plan.ts";
import { Retrieval } from "../src/runtime/standalone.ts";
import { main } from "../src/cli/main.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import { load as libraryLoad, reference as libraryReference } from "../mod.ts";
import { gpuTest } from "./helpers/gpu.ts";

function model(fields: string, name = "m"): Model {
  const { models, diagnostics } = checkText(`model ${name} { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
  return models[0];
}

function errors(text: string) {
  return checkText(text, "m.hop").diagnostics.filter((d) => d.severity === "error");
}

function data(M: number, D: number, B: number, seed: number, signed = false) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - (signed ? 0.5 : 0);
  };
  const X: Mat = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, rnd) };
  const Q: Mat = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < D; j++) Q.data[b * D + j] = X.data[(b % M) * D + j] + 0.2 * rnd();
  }
  return { X, Q };
}

const ahopOf = (fit: StoredFit | null | undefined) => fit as AhopFit;

// ---------------------------------------------------------------------------------------------
// The checker.

Deno.test("checker: ahop arguments out of range are errors on their tokens", () => {
  const cases: [string, RegExp, number, number][] = [
    [
      "model m {\n  similarity ahop(corrupt = noise, level = 0)\n}",
      /`level` of `similarity ahop` must be positive for `corrupt = noise`/,
      2,
      44,
    ],
    [
      "model m { similarity ahop(corrupt = mask, level = 1) }",
      /must be at least 0 and below 1 for `corrupt = mask`/,
      1,
      51,
    ],
    [
      "model m { similarity ahop(corrupt = dropout, level = -0.1) }",
      /must be at least 0 and below 1 for `corrupt = dropout`/,
      1,
      54,
    ],
    ["model m { similarity ahop(level = 1.5) }", /below 1 for `corrupt = mask`/, 1, 35],
    [
      "model m { similarity ahop(samples = 0) }",
      /samples must be a whole number of at least 1/,
      1,
      37,
    ],
    ["model m { similarity ahop(samples = 1.5) }", /samples must be a whole number/, 1, 37],
    [
      "model m { similarity ahop(epochs = 0) }",
      /epochs must be a whole number of at least 1/,
      1,
      36,
    ],
    ["model m { similarity ahop(lr = 0) }", /lr must be positive/, 1, 32],
    ["model m { similarity ahop(seed = -1) }", /seed must be a whole number from 0/, 1, 34],
    ["model m { similarity ahop(corrupt = blur) }", /corrupt/, 1, 37],
    ["model m { similarity ahop(scales = some) }", /scales/, 1, 36],
    ["model m { similarity ahop(k = 2) }", /unknown argument `k` of `ahop`/, 1, 27],
  ];
  for (const [text, message, line, col] of cases) {
    const errs = errors(text);
    assert.equal(errs.length, 1, `${text}: ${JSON.stringify(errs)}`);
    assert.match(errs[0].message, message, text);
    assert.deepEqual([errs[0].line, errs[0].col], [line, col], `${text}: ${errs[0].message}`);
  }
  assert.match(
    errors("model m { similarity ahop(corrupt = noise, level = 0) }")[0].hint ?? "",
    /standard deviation/,
  );
  // Every level is fine for a bias, and levels in range for the others.
  for (
    const f of [
      "similarity ahop(corrupt = bias, level = -3)",
      "similarity ahop(corrupt = bias, level = 0)",
      "similarity ahop(corrupt = noise, level = 2)",
      "similarity ahop(corrupt = mask, level = 0)",
      "similarity ahop(corrupt = dropout, level = 0.9)",
    ]
  ) model(f);
});

Deno.test("checker: ahop with continuous memory is refused with its reason; the rest combines", () => {
  const errs = errors("model m {\n  memory continuous(functions = 8)\n  similarity ahop\n}");
  assert.equal(errs.length, 1, JSON.stringify(errs));
  assert.match(errs[0].message, /`similarity ahop` cannot be combined with continuous memory/);
  assert.match(errs[0].hint ?? "", /sorts per-dimension similarities/);
  assert.deepEqual([errs[0].line, errs[0].col], [3, 14]);
  for (
    const f of [
      "similarity ahop entropy tsallis(alpha = 1.5) mask topk(k = 3) post l2",
      "similarity ahop separation exp(scale = 0.5, normalize = sum) mask random(keep = 0.5)",
      "similarity ahop readout project(a = 1, h = 0) relax 0.5 steps until(tol = 1e-4, max = 5)",
    ]
  ) model(f);
});

Deno.test("defaults: the issue's (Adam lr 0.1, 200 epochs, 2 masked samples per memory)", () => {
  const m = model("similarity ahop");
  assert.deepEqual(m.similarity, {
    kind: "ahop",
    corrupt: "mask",
    level: 0.5,
    samples: 2,
    epochs: 200,
    lr: 0.1,
    scales: "all",
    seed: 0,
  });
});

// ---------------------------------------------------------------------------------------------
// The fit and the reference.

const fitOf = (fields: string, X: Mat) => ahopOf(loadReference(model(fields), X).fit);

Deno.test("fit: reproducible from the seed, another seed or corruption fits otherwise", () => {
  const { X } = data(10, 6, 1, 2);
  for (const c of ["mask", "dropout", "noise(level = 0.3)", "bias(level = 0.2)"]) {
    const [kind, level] = c.includes("(")
      ? [c.slice(0, c.indexOf("(")), c.slice(c.indexOf("(") + 1, -1)]
      : [c, ""];
    const f = `similarity ahop(corrupt = ${kind}${level ? `, ${level}` : ""}, epochs = 15)`;
    const a = fitOf(f, X), b = fitOf(f, X);
    assert.deepEqual([...a.params.w], [...b.params.w], f);
    assert.deepEqual([a.params.a, a.params.b], [b.params.a, b.params.b], f);
    assert.deepEqual(a.losses, b.losses, f);
    assert.equal(a.losses.length, 16, "a loss per epoch, then the final one");
    assert.ok(a.losses[15] < a.losses[0], `${f}: the loss falls ${a.losses[0]} -> ${a.losses[15]}`);
    assert.equal(a.fitted, 10);
    if (kind !== "bias") {
      // A bias shifts every sample alike: the seed draws nothing for it.
      const other = fitOf(f.replace("epochs = 15", "epochs = 15, seed = 9"), X);
      assert.notDeepEqual([...other.params.w], [...a.params.w], f);
    }
  }
  // The model's beta enters the cross-entropy; geometric scales leave w 0 off the scales.
  const b1 = fitOf("similarity ahop(epochs = 5) beta 1", X);
  const b4 = fitOf("similarity ahop(epochs = 5) beta 4", X);
  assert.notDeepEqual(b1.losses, b4.losses);
  assert.equal(b4.settings.beta, 4);
  const { X: wide } = data(8, 40, 1, 3);
  const g = fitOf("similarity ahop(epochs = 5, scales = geometric)", wide);
  const on = new Set(geometricScales(40).map((k) => k - 1));
  g.params.w.forEach((v, k) => assert.ok(on.has(k) || v === 0, `w[${k}] = ${v}`));
  // Fewer than two memories: nothing to tell apart.
  assert.throws(
    () =>
      loadReference(model("similarity ahop"), { rows: 1, cols: 3, data: Float64Array.of(1, 2, 3) }),
    /needs at least 2, got M = 1/,
  );
});

Deno.test("reference: the scores are ahopScores on the prepared memories, with beta; no energy", () => {
  const { X, Q } = data(9, 5, 2, 4, true);
  for (
    const f of ["similarity ahop(epochs = 5) beta 3", "similarity ahop(epochs = 5) post l2 beta 3"]
  ) {
    const m = model(f);
    const loaded = loadReference(m, X);
    const fit = ahopOf(loaded.fit);
    const P = prepareMemories(m, X);
    for (let b = 0; b < Q.rows; b++) {
      const q = Float64Array.from(Q.data.subarray(b * 5, b * 5 + 5));
      const s = new Float64Array(9);
      ahopScores(fit.params, P.data, 9, 5, q, s);
      const top = Math.max(...s.map((v) => 3 * v));
      const e = s.map((v) => Math.exp(3 * v - top));
      const sum = e.reduce((x, y) => x + y, 0);
      const { weights } = loaded.step(q, b);
      weights.forEach((w, i) => assert.ok(Math.abs(w - e[i] / sum) < 1e-12, `${f}: ${i}`));
      assert.equal(loaded.energy(q, b), null);
    }
  }
});

Deno.test("saved fits: round trip through the .npz; checked against the model and D", async () => {
  const { X } = data(8, 6, 1, 5);
  const m = model("similarity ahop(epochs = 4, corrupt = noise, level = 0.1) beta 2");
  const fit = ahopOf(loadReference(m, X).fit);
  const back = ahopOf(await decodeFit(encodeFit(fit), "F.npz"));
  assert.equal(back.kind, "ahop");
  assert.deepEqual([...back.params.w], [...fit.params.w]);
  assert.deepEqual([back.params.a, back.params.b], [fit.params.a, fit.params.b]);
  assert.deepEqual(back.settings, fit.settings);
  assert.deepEqual(back.losses, fit.losses);
  // The reference with the saved fit is the reference that fitted.
  const { Q } = data(8, 6, 2, 5);
  const a = retrieveReference(m, X, Q);
  const b = retrieveReference(m, X, Q, loadReference(m, X, { fit: back }));
  assert.deepEqual([...a.states.data], [...b.states.data]);
  const cases: [string, Mat, RegExp][] = [
    [
      "similarity ahop(epochs = 4, corrupt = noise, level = 0.1) beta 3",
      X,
      /its beta is 2, the model's is 3/,
    ],
    ["similarity ahop(epochs = 5, corrupt = noise, level = 0.1) beta 2", X, /its epochs is 4/],
    [
      "similarity ahop(epochs = 4, corrupt = mask, level = 0.1) beta 2",
      X,
      /its corrupt is "noise"/,
    ],
    [
      "similarity ahop(epochs = 4, corrupt = noise, level = 0.1) beta 2",
      data(8, 7, 1, 5).X,
      /weighs D = 6 footprint scales but the memories have D = 7/,
    ],
    ["similarity uhop(epochs = 2) beta 2", X, /A-Hop's footprint weights but .* is `uhop`/],
    ["beta 2", X, /has no learned similarity/],
  ];
  for (const [f, Xc, re] of cases) {
    assert.throws(() => loadReference(model(f), Xc, { fit: back, file: "F.npz" }), re, f);
  }
  // A feature map given to an ahop model.
  const u = model("similarity uhop(epochs = 2)");
  const map = loadReference(u, X).fit!;
  assert.throws(() => loadReference(m, X, { fit: map }), /a feature map W .* is `ahop`/);
  // Broken files.
  const bad = {
    ...back,
    params: { ...back.params, w: Float64Array.from(back.params.w).fill(NaN, 2, 3) },
  };
  assert.throws(() => loadReference(m, X, { fit: bad }), /non-finite number \(entry 2\)/);
});

// ---------------------------------------------------------------------------------------------
// The plan and the WGSL.

const LLVMPIPE = {
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
};

Deno.test("plan: the footprint pass replaces score_rows within the loop budget; refusals", () => {
  const parts = blockedParts(model("similarity ahop mask topk(k = 3) entropy sparsemax"))!;
  for (const D of [2, 5, 64, 784, 1024]) {
    for (const workgroupSize of [16, 64, 256]) {
      const plan = planBlocked(parts, 5000, D, LLVMPIPE, 60000, { workgroupSize });
      assert.ok(plan.footprint, `${D}`);
      assert.equal(plan.footprint!.P, 2 ** Math.ceil(Math.log2(Math.max(2, D))));
      assert.ok(plan.footprint!.workgroupSize <= plan.footprint!.P / 2);
      assert.equal(plan.iterations.score_rows, undefined);
      assert.ok(plan.iterations.footprint_rows > 0);
      for (const [pass, n] of Object.entries(plan.iterations)) {
        assert.ok(n <= 60000, `${pass} ${n}`);
      }
      const entries = entryPoints(parts, plan);
      assert.ok(entries.includes("footprint_rows") && !entries.includes("score_rows"));
      assert.ok(entries.includes("row_select"));
    }
  }
  // The fused schedule and workgroup tiles do not apply: three passes, with the reason.
  const online = blockedParts(model("similarity ahop"))!;
  const fused = planBlocked(online, 100, 16, LLVMPIPE, 60000, {
    schedule: "fused",
    tile: "workgroup",
  });
  assert.equal(fused.schedule, "threePass");
  assert.equal(fused.tile, "none");
  assert.match(fused.notes.join("\n"), /A-Hop's footprint sorts each \(query, memory\) pair/);
  // D past workgroup memory: refused with the numbers.
  assert.throws(
    () => planBlocked(online, 100, 3000, LLVMPIPE, 60000),
    (e: unknown) =>
      e instanceof PlanError &&
      /D = 3000 .* 4096 entries .* over this adapter's 32768/.test(e.message) &&
      /use D <= 2048/.test(e.hint),
  );
  assert.throws(
    () =>
      planBlocked(online, 100, 600, { ...LLVMPIPE, maxComputeWorkgroupStorageSize: 4096 }, 60000),
    /over this adapter's 4096/,
  );
  // The one-workgroup-per-query kernel has no lowering, and says why.
  assert.match(
    kernelSpec(model("similarity ahop")).workgroupUnsupported ?? "",
    /blocked kernels only/,
  );
});

Deno.test("tint: the footprint pass validates (every entry point, several shapes and masks)", async () => {
  const texts = new Set<string>();
  for (
    const f of [
      "similarity ahop",
      "similarity ahop mask topk(k = 4) entropy tsallis(alpha = 1.5) post tanh",
      "similarity ahop mask random(keep = 0.5, seed = 2) post l2 steps until(tol = 1e-5, max = 4)",
      "similarity ahop separation exp(scale = 0.5, normalize = sum)",
    ]
  ) {
    const parts = blockedParts(model(f))!;
    for (const D of [3, 64, 784]) {
      for (const workgroupSize of [16, 64]) {
        // A browser's default limits: Tint must have nothing at all to say.
        const plan = planBlocked(parts, 300, D, DEFAULT_LIMITS, 60000, { workgroupSize });
        const wgsl = assemble(parts, plan);
        if (texts.has(wgsl)) continue;
        texts.add(wgsl);
        for (const entryPoint of entryPoints(parts, plan)) {
          const ms = await validateTint(wgsl, { entryPoint, limits: DEFAULT_LIMITS });
          assert.deepEqual(ms, [], `${f} D = ${D} ${entryPoint}`);
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The GPU against the float64 reference.

async function agree(
  m: Model,
  X: Mat,
  Q: Mat,
  choices: RunChoices,
  what: string,
  extras: { clamp?: Mat; values?: Mat; graph?: Mat } = {},
  tol = 2e-4,
) {
  const loaded = loadReference(m, X, { graph: extras.graph });
  const r = await load(m, X, undefined, choices, { graph: extras.graph, fit: loaded.fit! });
  try {
    assert.equal(r.fit, loaded.fit, "the given fit is the retriever's");
    const { graph: _g, ...perCall } = extras;
    const out = await r.retrieve(Q, { weights: true, ...perCall });
    const ref = retrieveReference(m, X, Q, loaded, extras);
    let err = 0, big = 0;
    for (let i = 0; i < ref.states.data.length; i++) {
      err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      big = Math.max(big, Math.abs(ref.states.data[i]));
    }
    assert.ok(err <= tol * Math.max(big, 1), `${what}: state error ${err} of ${big}`);
    let werr = 0;
    for (let i = 0; i < ref.weights.data.length; i++) {
      werr = Math.max(werr, Math.abs(out.weights![i] - ref.weights.data[i]));
    }
    assert.ok(werr <= tol, `${what}: weight error ${werr}`);
    assert.deepEqual(Array.from(out.stepsRun), ref.stepsRun, what);
    return r.blockedPlan;
  } finally {
    r.destroy();
  }
}

const AHOP = "similarity ahop(epochs = 20)";

gpuTest("GPU = reference: ahop across entropies, masks, separations, posts, steps", async () => {
  const { X, Q } = data(30, 10, 5, 8);
  const cases = [
    `${AHOP} beta 4 steps 3`,
    `${AHOP} entropy sparsemax beta 8 steps 2`,
    `${AHOP} entropy tsallis(alpha = 1.5) beta 8 steps until(tol = 1e-5, max = 20)`,
    `${AHOP} mask topk(k = 6) beta 4 steps 2`,
    `${AHOP} mask random(keep = 0.5, seed = 3) beta 4 steps 2`,
    `${AHOP} separation exp(scale = 0.5, normalize = sum) steps 2`,
    `${AHOP} post tanh beta 4 steps 3`,
    `${AHOP} post l2 beta 8 steps 3`,
    `similarity ahop(corrupt = noise, level = 0.2, samples = 1, epochs = 10, scales = geometric) beta 4 steps 2`,
    `similarity ahop(corrupt = bias, level = 0.1, epochs = 10) entropy sparsemax beta 6 relax 0.5 steps 2`,
  ];
  for (const f of cases) await agree(model(f), X, Q, {}, f);
});

const PLANS: { label: string; choices: RunChoices }[] = [
  { label: "rules", choices: {} },
  { label: "fused asked", choices: { blocked: { schedule: "fused" } } },
  {
    label: "threePass q4 r2",
    choices: { blocked: { schedule: "threePass", queriesPerThread: 4, rowBlock: 2 } },
  },
  {
    label: "tiled asked wg64",
    choices: { blocked: { tile: "workgroup", workgroupSize: 64 } },
  },
  { label: "parallel splits", choices: { blocked: { parallelism: 4096 } } },
];

gpuTest("GPU = reference: ahop x plan shapes, memories over several buffers", async (ctx) => {
  const { X, Q } = data(64, 12, 5, 3);
  const f = `${AHOP} entropy sparsemax beta 8 steps 2`;
  for (const { label, choices } of PLANS) await agree(model(f), X, Q, choices, `${f} ${label}`);
  // 12 columns are 3 vec4 chunks (48 bytes a row): a 1536-byte binding holds 32 rows, so the 64
  // memories span 2 buffers (each with its copy of Omega, a, b), and the queries come in slices.
  const limits = { ...ctx.limits, maxStorageBufferBindingSize: 1536 };
  const plan = await agree(model(f), X, Q, { limits }, `${f} split`);
  assert.ok(plan && plan.rowsPerChunk === 32, `rows per chunk ${plan?.rowsPerChunk}`);
  await agree(model(`${AHOP} mask topk(k = 5) beta 4 steps 2`), X, Q, { limits }, "split topk");
  // A grid folded under a small maxComputeWorkgroupsPerDimension (64 x 5 pairs over 7 wide).
  await agree(
    model(f),
    X,
    Q,
    { limits: { ...ctx.limits, maxComputeWorkgroupsPerDimension: 7 } },
    "folded",
  );
});

gpuTest("GPU = reference: values, clamp, readout project with a graph; D = 784", async () => {
  const { X, Q } = data(20, 6, 4, 11);
  const m = model(`${AHOP} beta 4 steps 3`);
  const C: Mat = { rows: 1, cols: 6, data: Float64Array.from([1, 1, 0, 0, 0, 0]) };
  const V: Mat = {
    rows: 20,
    cols: 3,
    data: Float64Array.from({ length: 60 }, (_, i) => Math.sin(i)),
  };
  await agree(m, X, Q, {}, "clamp", { clamp: C });
  await agree(m, X, Q, {}, "values", { values: V });
  // readout project over a memory graph: its rows follow each chunk's key rows.
  const A = new Float64Array(20 * 20);
  for (let i = 0; i < 20; i++) A[i * 20 + (i + 1) % 20] = 1;
  const graph: Mat = { rows: 20, cols: 20, data: A };
  const p = model(`${AHOP} beta 4 readout project(a = 0.5, h = 0.5, c = 1) relax 0.5 steps 3`);
  await agree(p, X, Q, {}, "project", { graph });
  const big = data(6, 784, 2, 12);
  await agree(model("similarity ahop(epochs = 10) beta 0.5 steps 1"), big.X, big.Q, {}, "D = 784");
});

gpuTest(
  "GPU: generated-module path transforms raw memories itself; a fit is required",
  async (ctx) => {
    const { X, Q } = data(16, 8, 3, 21, true);
    const m = model(`${AHOP} post l2 beta 8 steps 2`);
    const loaded = loadReference(m, X);
    const { w, a, b } = ahopOf(loaded.fit).params;
    const kernel = kernelSpec(m);
    await assert.rejects(
      () => Retrieval.load(ctx.device, kernel, X.data, 16, 8),
      /give its fit at load/,
    );
    const r = await Retrieval.load(ctx.device, kernel, X.data, 16, 8, { fit: { w, a, b } });
    try {
      const out = await r.retrieve(Q.data, 3);
      const ref = retrieveReference(m, X, Q, loaded);
      for (let i = 0; i < out.states.length; i++) {
        assert.ok(Math.abs(out.states[i] - ref.states.data[i]) < 2e-4, `${i}`);
      }
    } finally {
      r.destroy();
    }
    await assert.rejects(
      () => load(m, X, undefined, { kernel: "workgroup" }, { fit: loaded.fit! }),
      /blocked kernels only/,
    );
    // Without a fit, the GPU's load fits the same weights as the reference.
    const own = await load(model(`${AHOP} beta 4`), X);
    try {
      assert.deepEqual([...ahopOf(own.fit).params.w], [
        ...ahopOf(loadReference(model(`${AHOP} beta 4`), X).fit).params.w,
      ]);
    } finally {
      own.destroy();
    }
  },
);

gpuTest(
  "library: retriever.fit round-trips through encodeFit/decodeFit and reference({ fit })",
  async (ctx) => {
    const { X, Q } = data(20, 5, 3, 13);
    const m = model("similarity ahop(epochs = 6) beta 4 steps 2");
    const epochs: number[] = [];
    const r = await libraryLoad(ctx, m, X, { onFitProgress: (p) => epochs.push(p.epoch) });
    try {
      assert.deepEqual(epochs, [1, 2, 3, 4, 5, 6]);
      const fit = await decodeFit(encodeFit(r.fit!), "F.npz");
      const again = await libraryLoad(ctx, m, X, {
        fit,
        onFitProgress: () => assert.fail("refit"),
      });
      const ref = libraryReference(m, X, Q, { fit });
      assert.equal(ref.fit, fit);
      const a = await r.retrieve(Q), b = await again.retrieve(Q);
      assert.deepEqual([...a.states.data], [...b.states.data]);
      for (let i = 0; i < a.states.data.length; i++) {
        assert.ok(Math.abs(a.states.data[i] - ref.states.data[i]) < 2e-4);
      }
      again.destroy();
    } finally {
      r.destroy();
    }
  },
);

// ---------------------------------------------------------------------------------------------
// The command line.

async function hopc(...argv: string[]) {
  const out: string[] = [], err: string[] = [], status: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    progress: () => ({
      update: (t) => status.push(t),
      line: (t) => err.push(t),
      done: () => {},
    }),
  });
  return { code, out: out.join("\n"), err: err.join("\n"), status };
}

const SOURCE = `model a {
  similarity ahop(epochs = 12, seed = 1)
  beta 4
  steps 2
}
model a2 {
  similarity ahop(epochs = 12, seed = 2)
  beta 4
}
model u {
  similarity uhop(epochs = 3)
  beta 0.05
}`;

async function withFiles(fn: (f: Record<string, string>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-ahop-" });
  try {
    const f: Record<string, string> = {
      hop: `${dir}/m.hop`,
      X: `${dir}/X.npy`,
      X7: `${dir}/X7.npy`,
      Q: `${dir}/Q.npy`,
      Q7: `${dir}/Q7.npy`,
      fit: `${dir}/fit.npz`,
      ufit: `${dir}/ufit.npz`,
      junk: `${dir}/junk.npz`,
      out: `${dir}/out.npy`,
      out2: `${dir}/out2.npy`,
    };
    const { X, Q } = data(12, 6, 3, 7);
    const s7 = data(12, 7, 3, 7);
    await Deno.writeTextFile(f.hop, SOURCE);
    await Deno.writeFile(f.X, encodeNpy(X, "<f8"));
    await Deno.writeFile(f.Q, encodeNpy(Q, "<f8"));
    await Deno.writeFile(f.X7, encodeNpy(s7.X, "<f8"));
    await Deno.writeFile(f.Q7, encodeNpy(s7.Q, "<f8"));
    await Deno.writeFile(f.junk, new TextEncoder().encode("not a zip"));
    await fn(f);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const read = async (p: string) => [...parseNpy(await Deno.readFile(p), p).data];

Deno.test("cli: --save-fit writes the A-Hop fit, --fit reuses it (cpu); progress per epoch", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "--device", "cpu"];
    const a = await hopc(...base, "--model", "a", "-o", f.out, "--save-fit", f.fit);
    assert.equal(a.code, 0, a.err);
    assert.match(a.err, /hopc: fitted ahop on 12 memories \(24 context samples\): loss/);
    assert.equal(a.status.length, 12, a.status.join("\n"));
    assert.match(a.status[11], /fitting ahop: epoch 12\/12, loss \d/);
    const fit = ahopOf(await decodeFit(await Deno.readFile(f.fit), f.fit));
    const m = checkText(SOURCE, "m.hop").models.find((x) => x.name === "a")!;
    const { X, Q } = data(12, 6, 3, 7);
    assert.deepEqual([...fit.params.w], [...ahopOf(loadReference(m, X).fit).params.w]);
    const b = await hopc(...base, "--model", "a", "-o", f.out2, "--fit", f.fit);
    assert.equal(b.code, 0, b.err);
    assert.doesNotMatch(b.err, /fitted/);
    assert.deepEqual(b.status, []);
    assert.deepEqual(await read(f.out), await read(f.out2));
    const ref = retrieveReference(m, X, Q).states.data;
    (await read(f.out)).forEach((v, i) =>
      assert.ok(Math.abs(v - ref[i]) <= 1e-6 * Math.max(1, Math.abs(ref[i])))
    );
  });
});

Deno.test("cli: bad --fit files for an A-Hop model exit 1 naming the file", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--queries", f.Q, "-o", f.out, "--device", "cpu"];
    const saved = await hopc(...base, "--memories", f.X, "--model", "a", "--save-fit", f.fit);
    assert.equal(saved.code, 0, saved.err);
    const savedU = await hopc(...base, "--memories", f.X, "--model", "u", "--save-fit", f.ufit);
    assert.equal(savedU.code, 0, savedU.err);
    const cases: [string[], RegExp][] = [
      [["--memories", f.X, "--model", "a", "--fit", f.junk], /junk\.npz/],
      [["--memories", f.X, "--model", "a2", "--fit", f.fit], /its seed is 1, the model's is 2/],
      [["--memories", f.X, "--model", "u", "--fit", f.fit], /A-Hop's footprint weights/],
      [["--memories", f.X, "--model", "a", "--fit", f.ufit], /a feature map W/],
      [
        ["--memories", f.X7, "--queries", f.Q7, "--model", "a", "--fit", f.fit],
        /D = 6 footprint scales but the memories have D = 7/,
      ],
    ];
    for (const [extra, re] of cases) {
      const r = await hopc(...base, ...extra);
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, re, extra.join(" "));
      const named = extra[extra.indexOf("--fit") + 1];
      assert.ok(r.err.includes(named), `${r.err} names ${named}`);
    }
  });
});

gpuTest("cli: the GPU with --fit is the reference with --fit", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "--model", "a"];
    const cpu = await hopc(...base, "--device", "cpu", "-o", f.out, "--save-fit", f.fit);
    assert.equal(cpu.code, 0, cpu.err);
    const gpu = await hopc(...base, "--device", "gpu", "-o", f.out2, "--fit", f.fit);
    assert.equal(gpu.code, 0, gpu.err);
    const a = await read(f.out), b = await read(f.out2);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 2e-4, `${i}: ${v} ${b[i]}`));
  });
});

gpuTest(
  "GPU = reference past llvmpipe's 65535 loop iterations: M = 70000 with a saved fit",
  async () => {
    // A fit on 70000 memories would keep 2 x 70000^2 footprint pairs: a fit given as saved (its
    // settings the model's), so the row passes, the readout and the threshold search run over more
    // rows than one invocation's loops may cover.
    const M = 70000, D = 4, B = 2;
    const { X, Q } = data(M, D, B, 31);
    for (const f of ["beta 6", "entropy sparsemax beta 6", "mask topk(k = 5) beta 6 steps 2"]) {
      const m = model(`similarity ahop(epochs = 3) ${f}`);
      const settings = {
        corrupt: "mask" as const,
        level: 0.5,
        samples: 2,
        epochs: 3,
        lr: 0.1,
        scales: "all" as const,
        seed: 0,
        beta: 6,
        D,
      };
      const fit: AhopFit = {
        kind: "ahop",
        settings,
        params: { w: Float64Array.of(0.4, 0.3, 0.2, 0.1), a: 1.5, b: 0.25 },
        losses: [],
        fitted: M,
      };
      const loaded = loadReference(m, X, { fit });
      const r = await load(m, X, undefined, {}, { fit });
      try {
        const plan = r.blockedPlan!;
        assert.ok(M > 65535 && plan.footprint, f);
        const out = await r.retrieve(Q, { weights: true });
        const ref = retrieveReference(m, X, Q, loaded);
        let err = 0;
        for (let i = 0; i < ref.states.data.length; i++) {
          err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
        }
        assert.ok(err < 2e-4, `${f}: state error ${err}`);
        let wsum = 0;
        for (let i = 0; i < M; i++) wsum += out.weights![i];
        assert.ok(Math.abs(wsum - 1) < 1e-3, `${f}: weights sum to ${wsum}`);
      } finally {
        r.destroy();
      }
    }
  },
);

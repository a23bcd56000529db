// CDAM (Burns, ICML 2024; MATH.md 7.7): `readout project(a, h, c)` over the memory graph
// (`--graph A.npy`, normalized D^-1/2 A D^-1/2) and `relax eta` (x <- x + eta (r - x)).
// Checker errors with their places; the graph's normalization and the projection by hand; the
// reference against hand-computed steps on 2-3 memories and a cycle graph; properties (relax 1 is
// the plain update, project(a = 1, h = 0, c = 0) is keys); the graph's data checks; the GPU
// against the float64 reference across entropies, steps, relax, readouts, posts, clamps, values
// and plan shapes (memories split across storage buffers too); `hopc retrieve --graph` end to end.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model, Readout } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { normalizeGraph, projectRows } from "../src/runtime/hopc_host.ts";
import { checkGraph } from "../src/extras.ts";
import { HopError } from "../src/diagnostics.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { main } from "../src/cli/main.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import { kernelSpec } from "../src/wgsl/spec.ts";
import { gpuTest } from "./helpers/gpu.ts";
import { caseRng, FIELDS, nextFloat, probes } from "../tools/fuzz/language.ts";
import { randomAtom } from "../tools/fuzz/generate.ts";
import { fuzz } from "../tools/fuzz/run.ts";
import { LANGUAGE } from "../src/check.ts";
import fc from "fast-check";

function model(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
  return models[0];
}

function errors(text: string) {
  return checkText(text, "m.hop").diagnostics.filter((d) => d.severity === "error");
}

const mat = (rows: number, cols: number, v: number[]): Mat => ({
  rows,
  cols,
  data: Float64Array.from(v),
});

/** A directed cycle 0 -> 1 -> ... -> M-1 -> 0: A[i][(i + 1) % M] = 1. */
function cycle(M: number): Mat {
  const A = new Float64Array(M * M);
  for (let i = 0; i < M; i++) A[i * M + (i + 1) % M] = 1;
  return { rows: M, cols: M, data: A };
}

function data(M: number, D: number, B: number, seed: number) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const X: Mat = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, rnd) };
  const Q: Mat = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < D; j++) Q.data[b * D + j] = X.data[(b % M) * D + j] + 0.3 * (rnd() - 0.5);
  }
  return { X, Q };
}

// The readout parts have no WGSL: the registry infers their IR type from `rows(spec, ...)`.
const typed: Readout[] = [{ kind: "keys" }, { kind: "project", a: 1, h: 0, c: 0 }];
// @ts-expect-error: a project readout in the IR holds a, h and c
const untyped: Readout = { kind: "project", a: 1 };

// ---------------------------------------------------------------------------------------------
// The checker.

Deno.test("checker: relax outside (0, 1] and bad readouts are errors on their tokens", () => {
  const cases: [string, RegExp, number, number, RegExp?][] = [
    ["model m {\n  relax 1.5\n}", /relax must be in \(0, 1\], got 1.5/, 2, 9, /steps past/],
    ["model m {\n  relax 0\n}", /relax must be in \(0, 1\], got 0/, 2, 9, /small positive/],
    ["param e = -1\nmodel m { relax e }", /got -1 \(from param `e`/, 2, 17],
    ["model m { readout project(a = 1, hh = 2) }", /unknown argument `hh` of `project`/, 1, 34],
    ["model m { readout projct }", /unknown readout `projct`/, 1, 19, /did you mean `project`/],
    ["model m { readout keys(a = 1) }", /`keys` takes no arguments/, 1, 24],
    ["model m { readout 3 }", /`readout` expects a name/, 1, 19],
    ["model m { relax fast }", /undefined param `fast`/, 1, 17],
    [
      "model m {\n  similarity features(count = 8)\n  readout project(h = 1)\n}",
      /`readout project` cannot be combined with features similarity/,
      3,
      11,
      /never forms one weight per memory/,
    ],
    [
      "model m {\n  memory continuous\n  readout project(a = 2)\n}",
      /`readout project` cannot be combined with continuous memory/,
      3,
      11,
    ],
  ];
  for (const [text, message, line, col, hint] of cases) {
    const errs = errors(text);
    assert.equal(errs.length, 1, `${text}: ${JSON.stringify(errs)}`);
    assert.match(errs[0].message, message, text);
    assert.deepEqual([errs[0].line, errs[0].col], [line, col], `${text}: ${errs[0].message}`);
    if (hint) assert.match(errs[0].hint ?? "", hint, text);
  }
});

Deno.test("checker: defaults are readout keys and relax 1; the fields reach the IR", () => {
  assert.equal(typed.length + (untyped ? 1 : 0), 3);
  const plain = model("");
  assert.deepEqual(plain.readout, { kind: "keys" });
  assert.equal(plain.relax, 1);
  const m = model("readout project(a = -1, h = 3.5)  relax 0.2  beta 0.6");
  assert.deepEqual(m.readout, { kind: "project", a: -1, h: 3.5, c: 0 });
  assert.equal(m.relax, 0.2);
  // Relax goes with the other families too (a state-level step).
  model("similarity features(count = 8) relax 0.5");
  model("memory continuous relax 0.5");
  model("separation poly(n = 3, normalize = sum) readout project(a = 0.5, h = 0.5) relax 0.3");
});

Deno.test("fuzz: the generator writes readout and relax; relax's probes straddle (0, 1]", () => {
  assert.ok(FIELDS.includes("readout") && FIELDS.includes("relax"));
  const relax = LANGUAGE.relax;
  assert.ok(relax.kind === "number");
  const p = probes(relax.rule);
  assert.ok(p.valid.includes(1) && p.valid.includes(nextFloat(0, 1)) && p.valid.includes(0.5));
  assert.ok(p.invalid.includes(0) && p.invalid.includes(nextFloat(1, 1)) && p.invalid.includes(-1));
  const kinds = new Set<string>();
  for (let i = 0; i < 200; i++) kinds.add(randomAtom("readout", caseRng(3, i)).part ?? "#");
  assert.deepEqual([...kinds].sort(), ["keys", "project"]);
  // The compositional oracle learns readout x memory / similarity pairs (the checker's rule).
  return fuzz(11, 600, { maxFailures: 1 }).then((s) => assert.equal(s.failures.length, 0));
});

Deno.test("property: any graph is accepted or refused with a HopError; H is finite", () => {
  const entry = fc.oneof(
    fc.constantFrom(0, 0, 0, 1, 2.5, -1, NaN, Infinity, 1e308, Number.MIN_VALUE),
    fc.double({ min: 0, max: 10, noNaN: true }),
  );
  const m = model("readout project(a = 0.5, h = 0.5)");
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(entry, {
        minLength: 25,
        maxLength: 25,
      }),
      (rows, cols, v) => {
        const A = mat(rows, cols, v.slice(0, rows * cols));
        try {
          checkGraph(m, rows, A, "A.npy");
        } catch (e) {
          assert.ok(e instanceof HopError, String(e));
          return;
        }
        const H = normalizeGraph(A);
        assert.ok(H.data.every((x) => Number.isFinite(x) && x >= 0), Array.from(H.data).join());
      },
    ),
    { seed: 5, numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------------------------
// The graph and the projection by hand.

Deno.test("normalizeGraph: D^-1/2 A D^-1/2 by hand; a zero degree gives 0", () => {
  // A path 0 - 1 - 2 (undirected): degrees 1, 2, 1, so H[0][1] = 1 / sqrt(1 * 2).
  const path = normalizeGraph(mat(3, 3, [0, 1, 0, 1, 0, 1, 0, 1, 0]));
  const r = 1 / Math.sqrt(2);
  const want = [0, r, 0, r, 0, r, 0, r, 0];
  want.forEach((v, i) => assert.ok(Math.abs(path.data[i] - v) < 1e-16, `${i}: ${path.data[i]}`));
  // A directed 3-cycle: every out-degree is 1, H = A.
  assert.deepEqual(Array.from(normalizeGraph(cycle(3)).data), Array.from(cycle(3).data));
  // Memory 2 has no edge (row of zeros): its row and column of H are 0, no NaN.
  const lone = normalizeGraph(mat(3, 3, [0, 4, 0, 4, 0, 0, 0, 0, 0]));
  assert.deepEqual(Array.from(lone.data), [0, 1, 0, 1, 0, 0, 0, 0, 0]);
});

Deno.test("projectRows: a X + h H^T X - c mean(X) by hand", () => {
  const X = mat(3, 2, [1, 0, 0, 1, 1, 1]); // mean [2/3, 2/3]
  const H = normalizeGraph(cycle(3)); // row i of H^T X is x_{i-1}
  const R = projectRows({ a: 2, h: 0.5, c: 3 }, X, H);
  const want = [
    2 * 1 + 0.5 * 1 - 2, // row 0: 2 x0 + 0.5 x2 - 3 mean
    2 * 0 + 0.5 * 1 - 2,
    2 * 0 + 0.5 * 1 - 2, // row 1: 2 x1 + 0.5 x0
    2 * 1 + 0.5 * 0 - 2,
    2 * 1 + 0.5 * 0 - 2, // row 2: 2 x2 + 0.5 x1
    2 * 1 + 0.5 * 1 - 2,
  ];
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(R.data[i] - want[i]) < 1e-15, `${i}`);
});

// ---------------------------------------------------------------------------------------------
// The reference against steps computed by hand.

Deno.test("reference: one step of 2 linked memories, by hand (softmax, a, h, c, relax)", () => {
  const X = mat(2, 2, [1, 0, 0, 1]);
  const Q = mat(1, 2, [1, 0]);
  const A = mat(2, 2, [0, 1, 1, 0]); // both ways: H = A
  const beta = 2;
  const p0 = Math.exp(beta) / (Math.exp(beta) + 1), p1 = 1 / (Math.exp(beta) + 1);
  // Rows: R_0 = a x0 + h x1 - c m, R_1 = a x1 + h x0 - c m, m = [0.5, 0.5].
  const a = 0.3, h = 0.9, c = 1, eta = 0.25;
  const r = [
    p0 * (a - c / 2) + p1 * (h - c / 2),
    p0 * (h - c / 2) + p1 * (a - c / 2),
  ];
  const want = [1 + eta * (r[0] - 1), 0 + eta * (r[1] - 0)];
  const m = model(`beta ${beta} readout project(a = ${a}, h = ${h}, c = ${c}) relax ${eta}`);
  const out = retrieveReference(m, X, Q, undefined, { graph: A });
  for (let d = 0; d < 2; d++) assert.ok(Math.abs(out.states.data[d] - want[d]) < 1e-15);
  assert.ok(Math.abs(out.weights.data[0] - p0) < 1e-15);
  assert.deepEqual(out.trace.map((t) => t.energy[0]), [null, null]); // no energy is claimed
});

Deno.test("reference: hetero-association walks a directed 3-cycle backwards along its edges", () => {
  // R row i = x_{i-1} (an edge j -> i makes memory i read x_j): from x0 the state goes to x2,
  // then x1, then x0. beta 30 makes softmax nearly one-hot, so the state after step t is
  // x_{-t mod 3} to within e^-30.
  const X = mat(3, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const Q = mat(1, 3, [1, 0, 0]);
  for (const [steps, at] of [[1, 2], [2, 1], [3, 0]]) {
    const m = model(`beta 30 readout project(a = 0, h = 1) steps ${steps}`);
    const out = retrieveReference(m, X, Q, undefined, { graph: cycle(3) });
    for (let d = 0; d < 3; d++) {
      assert.ok(Math.abs(out.states.data[d] - (d === at ? 1 : 0)) < 1e-9, `${steps}: ${d}`);
    }
  }
  // Quiescence: a = h = 0, c = 1: every state goes to -mean(X) = -1/3.
  const q = retrieveReference(model("readout project(a = 0, c = 1) relax 1"), X, Q);
  for (let d = 0; d < 3; d++) assert.ok(Math.abs(q.states.data[d] + 1 / 3) < 1e-15);
});

Deno.test("properties: relax 1 is the plain update; project(a = 1, h = 0, c = 0) is keys", () => {
  const { X, Q } = data(20, 7, 5, 9);
  for (
    const f of [
      "",
      "entropy tsallis(alpha = 1.5) beta 4 steps 3",
      "entropy sparsemax similarity euclidean steps until(tol = 1e-6, max = 8)",
      "post l2 beta 3 steps 2",
      "separation poly(n = 3, normalize = sum) steps 2",
      "mask topk(k = 4) entropy softmax1 steps 2",
    ]
  ) {
    const plain = retrieveReference(model(f), X, Q);
    const relaxed = retrieveReference(model(`${f} relax 1`), X, Q);
    const projected = retrieveReference(model(`${f} readout project(a = 1, h = 0, c = 0)`), X, Q);
    assert.deepEqual(relaxed.states, plain.states, f);
    assert.deepEqual(projected.states, plain.states, f);
    assert.deepEqual(projected.weights, plain.weights, f);
  }
  // A relaxed step moves eta of the way: x1 = x0 + eta (r - x0), r the plain step from x0.
  const one = retrieveReference(model("beta 2"), X, Q);
  const half = retrieveReference(model("beta 2 relax 0.5"), X, Q);
  for (let i = 0; i < Q.data.length; i++) {
    const want = Q.data[i] + 0.5 * (one.states.data[i] - Q.data[i]);
    assert.ok(Math.abs(half.states.data[i] - want) < 1e-15);
  }
});

Deno.test("reference: relax with features and continuous memory (the step on the state)", () => {
  const { X, Q } = data(16, 6, 3, 4);
  for (const f of ["similarity features(count = 32)", "memory continuous(functions = 8)"]) {
    const one = retrieveReference(model(f), X, Q);
    const relaxed = retrieveReference(model(`${f} relax 0.3`), X, Q);
    for (let i = 0; i < Q.data.length; i++) {
      const want = Q.data[i] + 0.3 * (one.states.data[i] - Q.data[i]);
      assert.ok(Math.abs(relaxed.states.data[i] - want) < 1e-12, f);
    }
  }
});

Deno.test("reference: values with a projected readout are read once, from the final weights", () => {
  // The state iterates through R; values V^T p are read from the last step's weights.
  const { X, Q } = data(6, 4, 2, 2);
  const V = mat(6, 2, [1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 3, 3]);
  const m = model("readout project(a = 0.5, h = 0.5) steps 3 relax 0.5 beta 3");
  const full = retrieveReference(m, X, Q, undefined, { graph: cycle(6) });
  const withValues = retrieveReference(m, X, Q, undefined, { graph: cycle(6), values: V });
  assert.deepEqual(withValues.weights, full.weights);
  for (let b = 0; b < 2; b++) {
    for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let i = 0; i < 6; i++) s += full.weights.data[b * 6 + i] * V.data[i * 2 + j];
      assert.ok(Math.abs(withValues.states.data[b * 2 + j] - s) < 1e-15);
    }
  }
});

Deno.test("graph data checks: shape, sign, finiteness, and whether the model reads a graph", () => {
  const m = model("readout project(h = 1)");
  const bad: [Model, Mat | undefined, RegExp][] = [
    [m, undefined, /reads the memory graph, and none was given/],
    [m, mat(2, 3, [0, 1, 0, 1, 0, 1]), /the graph has shape \[2, 3\] but there are M = 3/],
    [m, mat(3, 3, [0, 1, 0, 1, 0, -2, 0, 1, 0]), /holds -2 at row 1, column 2/],
    [m, mat(3, 3, [0, 1, 0, 1, 0, NaN, 0, 1, 0]), /NaN at row 1, column 2/],
    [model(""), cycle(3), /never reads a memory graph: its readout is `keys`/],
    [model("readout project(a = 2)"), cycle(3), /`project` with h = 0/],
  ];
  for (const [mm, A, message] of bad) {
    assert.throws(() => checkGraph(mm, 3, A, "A.npy"), (e: unknown) => {
      assert.ok(e instanceof HopError);
      const d = e.diagnostics[0];
      assert.match(d.message, message);
      assert.ok(d.hint, `a hint for ${d.message}`);
      if (A) assert.equal(d.file, "A.npy");
      return true;
    });
  }
  checkGraph(m, 3, cycle(3), "A.npy");
  // The missing graph points at the readout line.
  const missing = checkText("model m {\n  readout project(h = 2)\n}", "m.hop").models[0];
  assert.throws(() => retrieveReference(missing, cycle(3), cycle(3)), (e: unknown) => {
    const d = (e as HopError).diagnostics[0];
    assert.deepEqual([d.file, d.line, d.col], ["m.hop", 2, 11]);
    return true;
  });
});

Deno.test("kernel spec: projected readout and relax go to the blocked kernels only", () => {
  const k = kernelSpec(model("readout project(a = 0.5, h = 0.5, c = 1) relax 0.1"));
  assert.deepEqual(k.readout, { a: 0.5, h: 0.5, c: 1 });
  assert.equal(k.blocked?.readout, "rows");
  assert.equal(k.blocked?.relax, 0.1);
  assert.match(k.workgroupUnsupported ?? "", /blocked kernels only/);
  const plain = kernelSpec(model(""));
  assert.equal(plain.readout, undefined);
  assert.equal(plain.blocked?.readout, undefined);
  assert.equal(plain.blocked?.relax, undefined);
});

// ---------------------------------------------------------------------------------------------
// The GPU against the float64 reference.

async function agree(
  m: Model,
  X: Mat,
  Q: Mat,
  graph: Mat | undefined,
  choices: RunChoices,
  what: string,
  extras: { clamp?: Mat; values?: Mat } = {},
  tol = 2e-4,
) {
  const r = await load(m, X, undefined, choices, { graph });
  try {
    const out = await r.retrieve(Q, { weights: true, ...extras });
    const ref = retrieveReference(m, X, Q, undefined, { graph, ...extras });
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

const PLANS: { label: string; choices: RunChoices }[] = [
  { label: "rules", choices: {} },
  { label: "fused asked", choices: { blocked: { schedule: "fused" } } },
  {
    label: "threePass q4 r2",
    choices: { blocked: { schedule: "threePass", queriesPerThread: 4, rowBlock: 2 } },
  },
  {
    label: "tiled q8 r4 wg16",
    choices: {
      blocked: { tile: "workgroup", queriesPerThread: 8, rowBlock: 4, workgroupSize: 16 },
    },
  },
  { label: "parallel splits", choices: { blocked: { parallelism: 4096 } } },
];

gpuTest(
  "GPU = reference: CDAM readouts x relax x plan shapes (softmax, a cycle graph)",
  async () => {
    const { X, Q } = data(40, 13, 6, 5);
    for (
      const f of [
        "readout project(a = 0.5, h = 0.5, c = 1) relax 0.1 steps 20",
        "readout project(a = -1, h = 3) relax 0.2 steps 10 beta 0.6",
        "readout project(a = 0, c = 1) relax 0.5 steps 4",
        "relax 0.3 steps 5 beta 4",
      ]
    ) {
      for (const { label, choices } of PLANS) {
        const graph = /h =/.test(f) ? cycle(40) : undefined;
        const plan = await agree(model(f), X, Q, graph, choices, `${f} [${label}]`);
        if (/readout/.test(f)) assert.equal(plan?.schedule, "threePass", `${f} [${label}]`);
      }
    }
  },
);

gpuTest("GPU = reference: readout and relax across entropies, posts, masks, steps", async () => {
  const { X, Q } = data(48, 10, 5, 8);
  const graph = cycle(48);
  graph.data[3 * 48 + 7] = 2.5; // a weighted extra edge
  const cases = [
    "entropy tsallis(alpha = 1.5) beta 3 readout project(a = 0.9, h = 0.1) relax 0.5 steps 6",
    "entropy sparsemax beta 8 readout project(a = 0.1, h = 0.9, c = 1) steps 3",
    "entropy normmax(gamma = 2) beta 5 relax 0.7 steps 4",
    "entropy ksubsets(k = 3) readout project(h = 0.5) steps 2",
    "entropy softmax1 beta 2 readout project(a = 0.5, h = 0.5, c = 0.5) relax 0.25 steps 5",
    "similarity euclidean beta 2 readout project(a = 1, h = 1) relax 0.5 steps until(tol = 1e-5, max = 30)",
    "post l2 beta 4 readout project(a = 1, h = 0.5, c = 0.2) relax 0.5 steps 3",
    "post layernorm beta 1 relax 0.4 steps 3",
    "mask topk(k = 5) readout project(a = 0.5, h = 1) relax 0.5 steps 3",
    "mask random(keep = 0.5, seed = 3) readout project(h = 1) steps 2",
    "separation poly(n = 3, normalize = sum) readout project(a = 0.5, h = 0.5) relax 0.5 steps 3",
    "separation max readout project(a = 0, h = 1) steps 2",
  ];
  for (const f of cases) {
    await agree(model(f), X, Q, /h =/.test(f) ? graph : undefined, {}, f);
  }
});

gpuTest("GPU = reference: relaxed features and continuous quadrature models", async () => {
  const { X, Q } = data(32, 8, 4, 2);
  for (
    const f of [
      "similarity features(count = 64) relax 0.5 steps 3",
      "memory continuous(functions = 8, quadrature = trapezoid, points = 50) relax 0.3 steps 3",
      "memory continuous(functions = 8) relax 0.3 steps 3 beta 2",
    ]
  ) {
    const r = await load(model(f), X);
    try {
      const out = await r.retrieve(Q);
      const ref = retrieveReference(model(f), X, Q);
      let err = 0;
      for (let i = 0; i < Q.data.length; i++) {
        err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      }
      assert.ok(err < 2e-4, `${f}: ${err}`);
    } finally {
      r.destroy();
    }
  }
});

gpuTest(
  "GPU = reference: clamp, values and a graph together; memories in several buffers",
  async (ctx) => {
    const { X, Q } = data(64, 12, 5, 3);
    const graph = cycle(64);
    const m = model("readout project(a = 0.5, h = 0.5, c = 1) relax 0.2 steps 8 beta 2");
    const C = mat(1, 12, Array.from({ length: 12 }, (_, d) => (d < 3 ? 1 : 0)));
    const V = mat(64, 3, Array.from({ length: 192 }, (_, i) => Math.sin(i)));
    await agree(m, X, Q, graph, {}, "clamp", { clamp: C });
    await agree(m, X, Q, graph, {}, "values", { values: V });
    // 12 columns are 3 vec4 chunks (48 bytes a row): a 1536-byte binding holds 32 rows, or 16 key
    // rows with their readout rows, so the 64 memories span 4 buffers.
    const limits = { ...ctx.limits, maxStorageBufferBindingSize: 1536 };
    const plan = await agree(m, X, Q, graph, { limits }, "split", {});
    assert.ok(plan && plan.rowsPerChunk === 16, `rows per chunk ${plan?.rowsPerChunk}`);
  },
);

gpuTest("GPU: the graph is checked at load (missing, wrong shape, negative entry)", async () => {
  const { X } = data(5, 4, 1, 1);
  const m = model("readout project(h = 1)");
  await assert.rejects(() => load(m, X), /none was given/);
  await assert.rejects(() => load(m, X, undefined, {}, { graph: cycle(4) }), /shape \[4, 4\]/);
  const neg = cycle(5);
  neg.data[2] = -1;
  await assert.rejects(() => load(m, X, undefined, {}, { graph: neg }), /holds -1 at row 0/);
});

// ---------------------------------------------------------------------------------------------
// The command line.

async function hopc(...argv: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const SOURCE = `model cdam {
  readout project(a = 0.5, h = 0.5, c = 1)
  relax 0.1
  steps 30
}
model plain { beta 2 }`;

async function withFiles(fn: (f: Record<string, string>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-cdam-" });
  try {
    const f: Record<string, string> = {
      hop: `${dir}/m.hop`,
      X: `${dir}/X.npy`,
      Q: `${dir}/Q.npy`,
      A: `${dir}/A.npy`,
      bad: `${dir}/bad.npy`,
      out: `${dir}/out.npy`,
    };
    const { X, Q } = data(8, 5, 3, 7);
    await Deno.writeTextFile(f.hop, SOURCE);
    await Deno.writeFile(f.X, encodeNpy(X));
    await Deno.writeFile(f.Q, encodeNpy(Q));
    await Deno.writeFile(f.A, encodeNpy(cycle(8)));
    await fn(f);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function expected() {
  const m = checkText(SOURCE, "m.hop").models[0];
  const { X, Q } = data(8, 5, 3, 7);
  return retrieveReference(m, X, Q, undefined, { graph: cycle(8) });
}

Deno.test("cli: hopc retrieve --graph on the cpu is the reference; bad graphs exit 1", async () => {
  await withFiles(async (f) => {
    const base = ["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "-o", f.out];
    const ok = await hopc(...base, "--model", "cdam", "--graph", f.A, "--device", "cpu");
    assert.equal(ok.code, 0, ok.err);
    const got = parseNpy(await Deno.readFile(f.out), f.out);
    const want = expected().states.data;
    want.forEach((v, i) => assert.ok(Math.abs(got.data[i] - v) < 1e-6, `${i}: ${got.data[i]}`));
    await Deno.remove(f.out);
    const cases: [string[], RegExp, Mat?][] = [
      [["--model", "cdam"], /reads the memory graph, and none was given/],
      [["--model", "cdam", "--graph", f.bad], /the graph has shape \[8, 7\]/, {
        rows: 8,
        cols: 7,
        data: new Float64Array(56),
      }],
      [["--model", "cdam", "--graph", f.bad], /holds -1 at row 0, column 0/, {
        rows: 8,
        cols: 8,
        data: Float64Array.from({ length: 64 }, (_, i) => (i === 0 ? -1 : 0)),
      }],
      [["--model", "plain", "--graph", f.A], /never reads a memory graph/],
    ];
    for (const [extra, message, bad] of cases) {
      if (bad) await Deno.writeFile(f.bad, encodeNpy(bad));
      const r = await hopc(...base, ...extra, "--device", "cpu");
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      await assert.rejects(() => Deno.stat(f.out)); // no output on an error
    }
  });
});

gpuTest("cli: hopc retrieve --graph on the GPU agrees with the reference", async () => {
  await withFiles(async (f) => {
    const r = await hopc(
      "retrieve",
      f.hop,
      "--memories",
      f.X,
      "--queries",
      f.Q,
      "-o",
      f.out,
      "--model",
      "cdam",
      "--graph",
      f.A,
    );
    assert.equal(r.code, 0, r.err);
    const got = parseNpy(await Deno.readFile(f.out), f.out);
    const want = expected().states.data;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got.data[i] - want[i]) < 1e-4);
  });
});

// ---------------------------------------------------------------------------------------------
// The library (mod.ts) and --trace.

Deno.test("library: reference(model, X, Q, { graph }) is the interpreter's answer", async () => {
  const { compile, reference } = await import("../mod.ts");
  const { models } = compile(
    "model m { readout project(a = 0.5, h = 0.5, c = 1) relax 0.2 steps 5 }",
  );
  const { X, Q } = data(6, 4, 2, 1);
  const out = reference(models[0], X, Q, { graph: cycle(6) });
  const want = retrieveReference(models[0].ir, X, Q, undefined, { graph: cycle(6) });
  assert.deepEqual(out.states, want.states);
  assert.throws(() => reference(models[0], X, Q), /reads the memory graph/);
});

gpuTest("library: load(gpu, model, X, { graph }) agrees with the reference", async (ctx) => {
  const { compile, load: libLoad } = await import("../mod.ts");
  const { models } = compile(
    "model m { readout project(a = 0.5, h = 0.5, c = 1) relax 0.2 steps 5 }",
  );
  const { X, Q } = data(6, 4, 2, 1);
  const r = await libLoad(ctx, models[0], X, { graph: cycle(6) });
  try {
    const out = await r.retrieve(Q);
    const want = retrieveReference(models[0].ir, X, Q, undefined, { graph: cycle(6) });
    want.states.data.forEach((v, i) => assert.ok(Math.abs(out.states.data[i] - v) < 1e-5));
  } finally {
    r.destroy();
  }
});

Deno.test("cli: --trace with --graph on the cpu: no energy claimed, the states of the reference", async () => {
  await withFiles(async (f) => {
    const trace = f.out.replace(/out\.npy$/, "trace.json");
    const r = await hopc(
      ...["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "-o", f.out],
      ...["--model", "cdam", "--graph", f.A, "--trace", trace, "--device", "cpu"],
    );
    assert.equal(r.code, 0, r.err);
    const t = JSON.parse(await Deno.readTextFile(trace));
    assert.equal(t.steps.length, 31);
    assert.ok(t.steps.every((s: { energy: unknown[] }) => s.energy.every((e) => e === null)));
  });
});

gpuTest("cli: --trace with --graph on the GPU follows the reference step by step", async () => {
  await withFiles(async (f) => {
    const trace = f.out.replace(/out\.npy$/, "trace.json");
    const r = await hopc(
      ...["retrieve", f.hop, "--memories", f.X, "--queries", f.Q, "-o", f.out],
      ...["--model", "cdam", "--graph", f.A, "--trace", trace],
    );
    assert.equal(r.code, 0, r.err);
    const got = parseNpy(await Deno.readFile(f.out), f.out);
    const want = expected().states.data;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got.data[i] - want[i]) < 1e-4);
  });
});

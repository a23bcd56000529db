// Free and sequential recall (src/recall/, MATH.md 2.7 E2, 3.8): the metrics by hand; constrained
// sparsemax against hand values and its KKT conditions; the sequence-budget SparseMAP against a
// hand-solved case and a brute-force optimality check over every chain; free recall on separated
// memories recalls each once; sequential recall against a hand trace; GPU against the reference
// (identical recalled sequences, close states), also past llvmpipe's 65,535-iteration loop limit;
// the `hopc recall` command end to end, with every kind of bad input.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { HopError } from "../src/diagnostics.ts";
import {
  levenshtein,
  levenshteinCoefficient,
  sequenceTarget,
  uniqueMemoryRatio,
} from "../src/recall/metrics.ts";
import { constrainedSparsemax } from "../src/recall/csparsemax.ts";
import { bestChain, chainScore, sequenceBudgetSparseMap } from "../src/recall/sequence_budget.ts";
import { recall, type RecallMode } from "../src/recall/protocol.ts";
import { csparsemaxGpuUnsupported, loadCsparsemaxGpu } from "../src/recall/csparsemax_gpu.ts";
import { main } from "../src/cli/main.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import { gpuTest } from "./helpers/gpu.ts";
import * as lib from "../mod.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

function modelOf(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "test.hop");
  assert.deepEqual(diagnostics, []);
  return models[0];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** N x D Gaussian memories (Box-Muller): continuous overlaps, so no ties between candidates. */
function gaussian(N: number, D: number, seed: number): Mat {
  const r = rng(seed);
  const data = new Float64Array(N * D);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.fround(Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
  }
  return { rows: N, cols: D, data };
}

const row = (X: Mat, i: number) => X.data.subarray(i * X.cols, (i + 1) * X.cols);

// ---------------------------------------------------------------------------------------------
// Metrics

Deno.test("levenshtein and its coefficient, by hand", () => {
  // kitten -> sitting: 3 edits.
  const word = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
  assert.equal(levenshtein(word("kitten"), word("sitting")), 3);
  assert.equal(levenshtein([], [1, 2]), 2);
  assert.equal(levenshtein([1, 2, 3], []), 3);
  assert.equal(levenshtein([1, 2, 3], [1, 2, 3]), 0);
  assert.equal(levenshtein([1, 2, 3], [2, 3, 4]), 2); // drop 1, add 4
  assert.equal(levenshtein([3, 1, 2], [1, 2, 3]), 2);
  assert.deepEqual(sequenceTarget(0, 4), [1, 2, 3, 4]);
  assert.deepEqual(sequenceTarget(2, 2), [3, 4]);
  // A perfect chain from x_0 over 5 memories ends by stepping back: 1 2 3 4 3 vs 1 2 3 4 5.
  assert.equal(levenshteinCoefficient([1, 2, 3, 4, 3], sequenceTarget(0, 5)), 1 - 1 / 5);
  assert.equal(levenshteinCoefficient([0, 0, 0, 0], [1, 2, 3, 4]), 0);
  assert.equal(levenshteinCoefficient([], []), 1);
});

Deno.test("unique memory ratio, by hand", () => {
  assert.equal(uniqueMemoryRatio([0, 1, 1, 3], 4), 0.75);
  assert.equal(uniqueMemoryRatio([2, 2, 2], 3), 1 / 3);
  assert.equal(uniqueMemoryRatio([0, 1, 2], 3), 1);
  assert.throws(() => uniqueMemoryRatio([], 0), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Constrained sparsemax

/** Σp = 1, 0 <= p <= u, and a τ with p_i = z_i − τ (free), z_i <= τ (zero), z_i − τ >= u_i (capped). */
function assertKkt(z: Float64Array, u: Float64Array, p: Float64Array, tol = 1e-10) {
  const sum = p.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < tol, `sum ${sum}`);
  for (let i = 0; i < p.length; i++) {
    assert.ok(p[i] >= -tol && p[i] <= u[i] + tol, `bounds at ${i}: ${p[i]} vs ${u[i]}`);
  }
  const free = [...p.keys()].filter((i) => p[i] > tol && p[i] < u[i] - tol);
  // A multiplier τ: free entries fix it, zero entries need z_i <= τ, capped ones z_i − u_i >= τ.
  let tLo = -Infinity, tHi = Infinity;
  for (let i = 0; i < p.length; i++) {
    if (u[i] <= tol) continue; // p_i = 0 = u_i: zero and capped at once, any τ will do
    if (free.includes(i)) {
      tLo = Math.max(tLo, z[i] - p[i] - tol);
      tHi = Math.min(tHi, z[i] - p[i] + tol);
    } else if (p[i] <= tol) tLo = Math.max(tLo, z[i] - tol);
    else tHi = Math.min(tHi, z[i] - u[i] + tol);
  }
  assert.ok(tLo <= tHi, `no multiplier: [${tLo}, ${tHi}]`);
}

Deno.test("constrained sparsemax: hand values", () => {
  const z = Float64Array.from([0.5, 0.3, 0.1]);
  // Loose bounds: plain sparsemax, τ = (0.9 − 1) / 3.
  const a = constrainedSparsemax(z, Float64Array.from([1, 1, 1]))!;
  assert.ok(Math.abs(a.tau + 0.1 / 3) < 1e-15);
  for (const [i, v] of [0.5 + 0.1 / 3, 0.3 + 0.1 / 3, 0.1 + 0.1 / 3].entries()) {
    assert.ok(Math.abs(a.p[i] - v) < 1e-15);
  }
  // u_0 = 0.2 caps the first entry; the rest share 0.8: τ = (0.4 − 0.8) / 2 = −0.2.
  const b = constrainedSparsemax(z, Float64Array.from([0.2, 1, 1]))!;
  assert.deepEqual(Array.from(b.p, (v) => Math.round(v * 1e12) / 1e12), [0.2, 0.5, 0.3]);
  assert.ok(Math.abs(b.tau + 0.2) < 1e-15);
  // A used-up memory (u = 0) gets nothing, however high its score.
  const c = constrainedSparsemax(Float64Array.from([10, 0, 0]), Float64Array.from([0, 1, 1]))!;
  assert.deepEqual(Array.from(c.p), [0, 0.5, 0.5]);
  // Bounds summing to exactly 1: the only feasible point, p = u.
  const d = constrainedSparsemax(
    Float64Array.from([3, 2, 1]),
    Float64Array.from([0.25, 0.5, 0.25]),
  )!;
  assert.deepEqual(Array.from(d.p), [0.25, 0.5, 0.25]);
  // Σu < 1: infeasible.
  assert.equal(constrainedSparsemax(z, Float64Array.from([0.3, 0.3, 0.3])), null);
  assert.throws(() => constrainedSparsemax(z, Float64Array.from([-1, 1, 1])), RangeError);
  assert.throws(
    () => constrainedSparsemax(Float64Array.from([NaN, 0, 0]), Float64Array.from([1, 1, 1])),
    RangeError,
  );
});

Deno.test("constrained sparsemax: KKT on random problems, and the plain sparsemax limit", () => {
  const r = rng(7);
  for (let t = 0; t < 300; t++) {
    const n = 1 + Math.floor(r() * 12);
    const z = Float64Array.from({ length: n }, () => (r() - 0.5) * (t % 3 === 0 ? 100 : 4));
    const u = Float64Array.from({ length: n }, () => (r() < 0.2 ? 0 : r()));
    const total = u.reduce((a, b) => a + b, 0);
    const out = constrainedSparsemax(z, u);
    if (total < 1) {
      assert.equal(out, null);
      continue;
    }
    assertKkt(z, u, out!.p);
  }
  // u >= 1 everywhere: sparsemax (the sort-based threshold).
  const z = Float64Array.from([1.2, 0.9, -0.3, 0.85]);
  const p = constrainedSparsemax(z, new Float64Array(4).fill(1))!.p;
  const tau = (1.2 + 0.9 + 0.85 - 1) / 3;
  assert.deepEqual(
    Array.from(p, (v) => +v.toFixed(12)),
    [1.2 - tau, 0.9 - tau, 0, 0.85 - tau].map((v) => +v.toFixed(12)),
  );
});

// ---------------------------------------------------------------------------------------------
// Sequence-budget SparseMAP

/** Every chain of n positions with exactly k ones. */
function allChains(n: number, k: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const rec = (i: number, left: number, c: Uint8Array) => {
    if (i === n) {
      if (left === 0) out.push(c.slice());
      return;
    }
    if (left > 0) {
      c[i] = 1;
      rec(i + 1, left - 1, c);
      c[i] = 0;
    }
    rec(i + 1, left, c);
  };
  rec(0, k, new Uint8Array(n));
  return out;
}

Deno.test("sequence budget: the Viterbi oracle is the best chain (brute force)", () => {
  const r = rng(3);
  for (let t = 0; t < 100; t++) {
    const n = 2 + Math.floor(r() * 6), k = 1 + Math.floor(r() * Math.min(3, n));
    const theta = Float64Array.from({ length: n }, () => r() * 4 - 2);
    const w = [0, 1, -1, 1e8][t % 4];
    const best = Math.max(...allChains(n, k).map((c) => chainScore(theta, c, w)));
    const c = bestChain(theta, k, w);
    assert.equal(c.reduce((a, b) => a + b, 0), k);
    assert.ok(Math.abs(chainScore(theta, c, w) - best) <= 1e-9 * Math.max(1, Math.abs(best)));
  }
});

Deno.test("sequence budget SparseMAP: hand-solved cases", () => {
  // θ = [0, 3, 1, 2.5, 0], w = 1e8: only consecutive pairs; the reduced scores
  // θ_i + θ_j − 2(μ_i + μ_j) − 1 of all four pairs are equal at μ = [1/6, 5/8, 2/3, 3/8, 1/6].
  const theta = Float64Array.from([0, 3, 1, 2.5, 0]);
  const a = sequenceBudgetSparseMap(theta, { k: 2, edgeScore: 1e8 });
  const want = [1 / 6, 5 / 8, 2 / 3, 3 / 8, 1 / 6];
  a.marginals.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `${i}: ${v}`));
  for (const s of a.support) assert.equal(s.on[1] - s.on[0], 1);
  // w = 0: plain 2-subsets; {1,3} and {1,2} share the weight 7/8, 1/8.
  const b = sequenceBudgetSparseMap(theta, { k: 2, edgeScore: 0 });
  const wantB = [0, 1, 1 / 8, 7 / 8, 0];
  b.marginals.forEach((v, i) => assert.ok(Math.abs(v - wantB[i]) < 1e-12, `${i}: ${v}`));
  // A clear winner: one pair, marginals exactly 0/1.
  const c = sequenceBudgetSparseMap(Float64Array.from([50, 40, 0, 0]), { k: 2, edgeScore: 1e8 });
  assert.deepEqual(Array.from(c.marginals), [1, 1, 0, 0]);
  assert.throws(() => sequenceBudgetSparseMap(theta, { k: 0, edgeScore: 1 }), RangeError);
  assert.throws(
    () => sequenceBudgetSparseMap(Float64Array.from([0, NaN]), { k: 1, edgeScore: 1 }),
    RangeError,
  );
});

Deno.test("sequence budget SparseMAP: optimality over every chain (KKT, brute force)", () => {
  const r = rng(11);
  for (let t = 0; t < 80; t++) {
    const n = 2 + Math.floor(r() * 7), k = Math.min(n, 1 + Math.floor(r() * 3));
    const theta = Float64Array.from({ length: n }, () => (r() * 2 - 1) * (t % 2 ? 3 : 0.5));
    const w = [0, 0.7, 1e8][t % 3];
    const { marginals: mu, support } = sequenceBudgetSparseMap(theta, { k, edgeScore: w });
    assert.ok(Math.abs(mu.reduce((a, b) => a + b, 0) - k) < 1e-9);
    // reduced(c) = score(c) − [c; 1−c]·[μ; 1−μ]: equal on the support, no larger anywhere.
    const reduced = (c: Uint8Array) => {
      let s = chainScore(theta, c, w);
      for (let i = 0; i < n; i++) s -= c[i] ? mu[i] : 1 - mu[i];
      return s;
    };
    const onSupport = support.map((s) => {
      const c = new Uint8Array(n);
      for (const i of s.on) c[i] = 1;
      return reduced(c);
    });
    const tau = Math.max(...onSupport);
    const tol = 1e-7 + 1e-14 * w * k; // w = 1e8 keeps ~1e-8 of the O(1) terms
    for (const v of onSupport) assert.ok(Math.abs(v - tau) < tol, `support ${v} vs ${tau}`);
    for (const c of allChains(n, k)) assert.ok(reduced(c) <= tau + tol, `chain beats τ`);
  }
});

// ---------------------------------------------------------------------------------------------
// The protocol on the reference

Deno.test("free recall recalls each well-separated memory once (every entropy)", async () => {
  const X = gaussian(10, 64, 5);
  for (const entropy of ["shannon", "tsallis(alpha = 1.5)", "sparsemax"]) {
    const model = modelOf(`entropy ${entropy} beta 1`);
    const out = await recall(model, X, { mode: "free" });
    assert.equal(out.recalled.length, 10);
    assert.equal(out.uniqueRatio, 1, `${entropy}: ${out.recalled}`);
    assert.equal(out.recalled[0], 0); // the first recall is the start itself (avg = 0)
    assert.equal(out.stopped, null);
    // Each state sits on the memory it recalled.
    for (let r = 0; r < 10; r++) {
      const s = out.states.data.subarray(r * 64, (r + 1) * 64);
      const x = row(X, out.recalled[r]);
      const err = Math.max(...s.map((v, d) => Math.abs(v - x[d])));
      assert.ok(err < 1e-6, `${entropy} recall ${r}: ${err}`);
    }
  }
});

Deno.test("csparsemax recall: bounds used up, N recalls feasible, then it stops", async () => {
  const X = gaussian(6, 64, 9);
  const model = modelOf("entropy sparsemax beta 1");
  const out = await recall(model, X, { mode: "csparsemax" });
  assert.equal(out.recalled.length, 6);
  assert.equal(out.uniqueRatio, 1, `${out.recalled}`);
  assert.equal(out.stopped, null);
  // Each recall uses up one unit of the bounds: recall 7 finds Σu < 1 and stops.
  const more = await recall(model, X, { mode: "csparsemax", recalls: 9 });
  assert.equal(more.recalled.length, 6);
  assert.deepEqual(more.recalled, out.recalled);
  assert.equal(more.stopped?.recall, 6);
  assert.match(more.stopped!.reason, /no feasible point/);
  // csparsemax is sparsemax with bounds: other entropies are refused.
  await assert.rejects(
    () => recall(modelOf("entropy shannon"), X, { mode: "csparsemax" }),
    (e: unknown) => e instanceof HopError && /constrained sparsemax/.test(e.message),
  );
});

Deno.test("sequential recall: the hand trace 1, 2, 3, 2 over 4 memories", async () => {
  // From x_0: pair {0,1}, q = x_0 + x_1 − x_0 = x_1; the penalty (1e6 on 0) and the bonus on 1 make
  // the next pair {1,2}, then {2,3}; at the end of the chain the pair is {2,3} again, so
  // q = x_2 + x_3 − x_3 = x_2. Levenshtein to [1, 2, 3, 4]: 1 edit, coefficient 3/4.
  const X = gaussian(4, 64, 21);
  for (const entropy of ["shannon", "sparsemax"]) {
    const out = await recall(modelOf(`entropy ${entropy} beta 1`), X, { mode: "sequential" });
    assert.deepEqual(out.recalled, [1, 2, 3, 2], entropy);
    assert.equal(out.levenshtein, 0.75);
    assert.equal(out.uniqueRatio, 0.75);
    for (let r = 0; r < 4; r++) {
      const s = out.states.data.subarray(r * 64, (r + 1) * 64);
      const x = row(X, out.recalled[r]);
      assert.ok(Math.max(...s.map((v, d) => Math.abs(v - x[d]))) < 1e-6);
    }
  }
  // No settle steps: the state is exactly X^T pair − q, the recalled index the pair's argmax.
  const bare = await recall(modelOf("entropy sparsemax beta 1"), X, {
    mode: "sequential",
    settle: 0,
    recalls: 1,
  });
  assert.deepEqual(bare.recalled, [0]); // the pair {0, 1}: argmax picks the first
  const x1 = row(X, 1);
  assert.ok(Math.max(...bare.states.data.map((v, d) => Math.abs(v - x1[d]))) < 1e-12);
});

Deno.test("recall: start from a state; the options are checked before any work", async () => {
  const X = gaussian(5, 16, 2);
  const model = modelOf("entropy sparsemax beta 1");
  const fromState = await recall(model, X, { mode: "free", start: Float64Array.from(row(X, 3)) });
  assert.equal(fromState.recalled[0], 3);
  assert.equal(fromState.levenshtein, null);
  const bad: [Parameters<typeof recall>[2], RegExp][] = [
    [{ mode: "free", start: 5 }, /start index 5 is out of range/],
    [{ mode: "free", start: -1 }, /out of range/],
    [{ mode: "free", start: 1.5 }, /out of range/],
    [{ mode: "free", start: new Float64Array(3) }, /3 entries but the memories have D = 16/],
    [{ mode: "free", start: new Float64Array(16).fill(NaN) }, /NaN/],
    [{ mode: "free", gamma: 0 }, /gamma must be a positive number/],
    [{ mode: "free", gamma: NaN }, /gamma/],
    [{ mode: "free", rate: 1.5 }, /rate must be in \(0, 1\]/],
    [{ mode: "free", settle: -1 }, /settle/],
    [{ mode: "free", recalls: 0 }, /recalls/],
    [{ mode: "sequential", edgeScore: -1 }, /edge score/],
    [{ mode: "csparsemax", settle: 0 }, /settle >= 1/],
    [{ mode: "bogus" as RecallMode }, /unknown recall mode `bogus`/],
  ];
  for (const [opts, message] of bad) {
    await assert.rejects(() => recall(model, X, opts), (e: unknown) => {
      assert.ok(e instanceof HopError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  const nanX: Mat = { rows: 2, cols: 2, data: Float64Array.from([1, NaN, 0, 1]) };
  await assert.rejects(() => recall(model, nanX, { mode: "free" }), /NaN at row 0, column 1/);
  for (const fields of ["post l2", "similarity euclidean", "mask topk(k = 2)"]) {
    await assert.rejects(
      () => recall(modelOf(`entropy sparsemax ${fields}`), X, { mode: "free" }),
      /recall/,
    );
  }
  await assert.rejects(
    () => recall(model, { rows: 1, cols: 4, data: new Float64Array(4) }, { mode: "sequential" }),
    /at least 2 memories/,
  );
});

Deno.test("recall from the library (mod.ts)", async () => {
  const compiled = lib.compile("model m { entropy sparsemax beta 1 }");
  assert.ok(compiled.ok);
  const X = gaussian(4, 64, 21);
  const out = await lib.recall(compiled.model("m"), X, { mode: "sequential" });
  assert.deepEqual(out.recalled, [1, 2, 3, 2]);
  assert.equal(lib.levenshteinCoefficient(out.recalled, lib.sequenceTarget(0, 4)), 0.75);
});

// ---------------------------------------------------------------------------------------------
// GPU against the reference

const GPU_CASES: [string, RecallMode][] = [
  ["shannon", "free"],
  ["tsallis(alpha = 1.5)", "free"],
  ["sparsemax", "free"],
  ["shannon", "sequential"],
  ["sparsemax", "sequential"],
];

gpuTest("recall on the GPU: the reference's sequence, states within f32 error", async (ctx) => {
  for (const [entropy, mode] of GPU_CASES) {
    for (const [N, D, seed, beta] of [[12, 64, 1, 1], [9, 40, 2, 0.5]]) {
      const X = gaussian(N, D, seed);
      const model = modelOf(`entropy ${entropy} beta ${beta}`);
      const cpu = await recall(model, X, { mode, settle: 5 });
      const gpu = await recall(model, X, { mode, settle: 5 }, ctx);
      assert.equal(gpu.device, "gpu");
      assert.deepEqual(gpu.recalled, cpu.recalled, `${entropy} ${mode} N=${N}`);
      let err = 0, scale = 0;
      for (let i = 0; i < cpu.states.data.length; i++) {
        err = Math.max(err, Math.abs(cpu.states.data[i] - gpu.states.data[i]));
        scale = Math.max(scale, Math.abs(cpu.states.data[i]));
      }
      assert.ok(err <= 1e-4 * scale, `${entropy} ${mode}: ${err} of ${scale}`);
    }
  }
  // csparsemax: its own kernel (src/recall/csparsemax_gpu.ts), the same sequence and stop.
  for (const [N, D, seed, beta] of [[10, 64, 3, 1], [7, 30, 4, 0.5], [40, 100, 5, 0.2]]) {
    const X = gaussian(N, D, seed);
    const model = modelOf(`entropy sparsemax beta ${beta}`);
    const cpu = await recall(model, X, { mode: "csparsemax", recalls: N + 2 });
    const gpu = await recall(model, X, { mode: "csparsemax", recalls: N + 2 }, ctx);
    assert.equal(gpu.device, "gpu");
    assert.deepEqual(gpu.recalled, cpu.recalled, `csparsemax N=${N}`);
    assert.deepEqual(gpu.stopped, cpu.stopped);
    let err = 0, scale = 0;
    for (let i = 0; i < cpu.states.data.length; i++) {
      err = Math.max(err, Math.abs(cpu.states.data[i] - gpu.states.data[i]));
      scale = Math.max(scale, Math.abs(cpu.states.data[i]));
    }
    assert.ok(err <= 1e-4 * scale, `csparsemax N=${N}: ${err} of ${scale}`);
  }
});

gpuTest("csparsemax GPU kernel: one step against the float64 solver, KKT in f32", async (ctx) => {
  const X = gaussian(300, 20, 6); // N > WG: threads take several rows
  const r = rng(2);
  const u = Float64Array.from({ length: 300 }, () => (r() < 0.3 ? 0 : r() * 0.2));
  const q = Float64Array.from(row(X, 5));
  const gpu = await loadCsparsemaxGpu(ctx, X, 0.7);
  try {
    const out = await gpu.steps(q, u, 1);
    const z = new Float64Array(300);
    for (let i = 0; i < 300; i++) {
      let acc = 0;
      for (let d = 0; d < 20; d++) acc += X.data[i * 20 + d] * q[d];
      z[i] = 0.7 * acc;
    }
    const want = constrainedSparsemax(z, u)!.p;
    const diff = Math.max(...want.map((v, i) => Math.abs(v - out.p[i])));
    assert.ok(diff < 1e-5, `weights differ by ${diff}`);
    assert.ok(Math.abs(out.p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    for (let i = 0; i < 300; i++) assert.ok(out.p[i] >= 0 && out.p[i] <= Math.fround(u[i]));
  } finally {
    gpu.destroy();
  }
  // Shapes past the loop budget are refused with the numbers.
  assert.match(
    csparsemaxGpuUnsupported(ctx, 200_000, 784) ?? "",
    /loop iterations per invocation at N = 200000, D = 784/,
  );
});

gpuTest("recall on the GPU past llvmpipe's 65,535 loop iterations per invocation", async (ctx) => {
  // M * D / 4 = 65,536 vec4 chunks per query: a kernel that looped over all of them in one
  // invocation would be cut short on llvmpipe; the blocked kernels split M to stay in budget.
  const X = gaussian(256, 1024, 4);
  const model = modelOf("entropy sparsemax beta 0.2");
  for (const mode of ["free", "sequential", "csparsemax"] as const) {
    const cpu = await recall(model, X, { mode, recalls: 2, settle: 2 });
    const gpu = await recall(model, X, { mode, recalls: 2, settle: 2 }, ctx);
    assert.deepEqual(gpu.recalled, cpu.recalled, mode);
    let err = 0;
    for (let i = 0; i < cpu.states.data.length; i++) {
      err = Math.max(err, Math.abs(cpu.states.data[i] - gpu.states.data[i]));
    }
    assert.ok(err < 1e-3, `${mode}: ${err}`);
  }
});

// ---------------------------------------------------------------------------------------------
// The command line

interface Run {
  code: number;
  out: string;
  err: string;
}

async function hopc(...argv: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("hopc recall: end to end on the cpu, and every bad input", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopc-recall-" });
  try {
    const X = gaussian(4, 64, 21);
    await Deno.writeFile(`${dir}/X.npy`, encodeNpy(X));
    await Deno.writeTextFile(
      `${dir}/m.hop`,
      "model seq { entropy sparsemax beta 1 }\nmodel soft { entropy shannon beta 1 }\nmodel l2 { post l2 }\n",
    );
    const base = [`${dir}/m.hop`, "--memories", `${dir}/X.npy`, "--device", "cpu"];
    const ok = await hopc(
      "recall",
      ...base,
      "--model",
      "seq",
      "--mode",
      "sequential",
      "--json",
      "-o",
      `${dir}/S.npy`,
    );
    assert.equal(ok.code, 0, ok.err);
    const json = JSON.parse(ok.out);
    assert.deepEqual(json.recalled, [1, 2, 3, 2]);
    assert.equal(json.levenshtein, 0.75);
    assert.equal(json.device, "cpu");
    assert.equal(json.options.gamma, 1e9);
    const S = parseNpy(await Deno.readFile(`${dir}/S.npy`), "S.npy");
    assert.deepEqual([S.rows, S.cols], [4, 64]);

    const text = await hopc("recall", ...base, "--model", "seq", "--mode", "free");
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^recalled: 0 /);
    assert.match(text.out, /unique memory ratio: 1\.0000/);

    // Start from a state file.
    await Deno.writeFile(
      `${dir}/q.npy`,
      encodeNpy({ rows: 1, cols: 64, data: Float64Array.from(row(X, 2)) }),
    );
    const st = await hopc(
      "recall",
      ...base,
      "--model",
      "seq",
      "--mode",
      "free",
      "--start",
      `${dir}/q.npy`,
      "--json",
    );
    assert.equal(st.code, 0, st.err);
    assert.equal(JSON.parse(st.out).recalled[0], 2);
    assert.equal(JSON.parse(st.out).levenshtein, null);

    // Input errors: exit 1, a message, no output file.
    await Deno.writeFile(
      `${dir}/bad.npy`,
      encodeNpy({ rows: 2, cols: 64, data: new Float64Array(128) }),
    );
    const inputErrors: [string[], RegExp][] = [
      [["--model", "seq", "--mode", "free", "--start-index", "4"], /start index 4 is out of range/],
      [["--model", "seq", "--mode", "free", "--rate", "2"], /rate must be in/],
      [["--model", "soft", "--mode", "csparsemax"], /must be sparsemax/],
      [["--model", "l2", "--mode", "free"], /post identity/],
      [["--model", "seq", "--mode", "free", "--start", `${dir}/bad.npy`], /one row/],
      [["--model", "nope", "--mode", "free"], /nope/],
    ];
    for (const [extra, message] of inputErrors) {
      const out = `${dir}/out.npy`;
      const r = await hopc("recall", ...base, ...extra, "-o", out);
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.ok(!(await exists(out)), "no partial output");
    }
    // Usage errors: exit 2.
    const usage: [string[], RegExp][] = [
      [["--mode", "bogus"], /--mode wants free, csparsemax or sequential/],
      [["--mode", "free", "--gamma", "0"], /--gamma wants a number > 0/],
      [["--mode", "free", "--gamma", "abc"], /--gamma/],
      [["--mode", "free", "--settle", "1.5"], /--settle wants an integer/],
      [["--mode", "free", "--recalls", "0"], /--recalls wants an integer >= 1/],
      [["--mode", "free", "--start-index", "0", "--start", "q.npy"], /not both/],
      [[], /needs --mode/],
    ];
    for (const [extra, message] of usage) {
      const r = await hopc("recall", ...base, ...extra);
      assert.equal(r.code, 2, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
    }
    const noMem = await hopc("recall", `${dir}/m.hop`, "--mode", "free");
    assert.equal(noMem.code, 2);
    assert.match(noMem.err, /needs --memories/);
    // NaN memories: the .npy reader refuses them (exit 1).
    await Deno.writeFile(
      `${dir}/nan.npy`,
      encodeNpy({ rows: 2, cols: 2, data: Float64Array.from([1, NaN, 0, 1]) }),
    );
    const nan = await hopc(
      "recall",
      `${dir}/m.hop`,
      "--memories",
      `${dir}/nan.npy`,
      "--model",
      "seq",
      "--mode",
      "free",
      "--device",
      "cpu",
    );
    assert.equal(nan.code, 1);
    assert.match(nan.err, /NaN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

gpuTest("hopc recall on the GPU: the cpu's answer in every mode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopc-recall-gpu-" });
  try {
    const X = gaussian(6, 32, 8);
    await Deno.writeFile(`${dir}/X.npy`, encodeNpy(X));
    await Deno.writeTextFile(`${dir}/m.hop`, "model m { entropy sparsemax beta 1 }\n");
    const base = ["recall", `${dir}/m.hop`, "--memories", `${dir}/X.npy`, "--json"];
    for (const mode of ["free", "sequential", "csparsemax"]) {
      const cpu = await hopc(...base, "--mode", mode, "--device", "cpu");
      const gpu = await hopc(...base, "--mode", mode, "--device", "gpu");
      const auto = await hopc(...base, "--mode", mode);
      for (const r of [cpu, gpu, auto]) assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(gpu.out).device, "gpu");
      assert.equal(JSON.parse(auto.out).device, "gpu");
      assert.deepEqual(JSON.parse(gpu.out).recalled, JSON.parse(cpu.out).recalled);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

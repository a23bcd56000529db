// The Universal Hopfield Networks similarities (MATH.md 7.2, src/parts/similarity/uhn.ts and its
// six modules): hand-checked scores from the formulas on tiny inputs, the floors (an exact match
// scores a large finite number; a row with no distribution scores 0), the non-negative data check
// on the reference and the GPU path, and the GPU kernels against the float64 reference for every
// new similarity crossed with softmax, sparsemax and a post-transform, under several plans.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import { HopError } from "../src/diagnostics.ts";
import type { Model, Similarity } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { similarityPart } from "../src/parts/registry.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { load, type RunChoices } from "../src/runtime/retriever.ts";
import { DIVERGENCE_FLOOR, LOG_FLOOR, RELATIVE_FLOOR } from "../src/parts/similarity/uhn.ts";
import { gpuTest } from "./helpers/gpu.ts";
import { kernelSpec } from "../src/wgsl/spec.ts";
import { Retrieval } from "../src/runtime/standalone.ts";

export const UHN_SIMILARITIES = [
  "reciprocal_manhattan",
  "reciprocal_euclidean",
  "normalized_dot",
  "kl",
  "reverse_kl",
  "js",
] as const;

const mat = (rows: number[][]): Mat => ({
  rows: rows.length,
  cols: rows[0].length,
  data: Float64Array.from(rows.flat()),
});

function scores(kind: Similarity["kind"], X: Mat, q: number[]): number[] {
  const out = new Float64Array(X.rows);
  const spec = { kind } as Similarity;
  similarityPart(spec).reference(X, Float64Array.from(q), spec, out);
  return [...out];
}

function model(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "m.hop");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
  return models[0];
}

function close(a: number[], b: number[], tol = 1e-12) {
  assert.equal(a.length, b.length);
  a.forEach((v, i) =>
    assert.ok(Math.abs(v - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${i}: ${v} vs ${b[i]}`)
  );
}

const ln = Math.log;

Deno.test("reciprocal distances: 1 / sum |x - q| and 1 / sum (x - q)^2 by hand", () => {
  const X = mat([[1, 2, 0], [0, 1, 1]]);
  const q = [1, 0, 2];
  // row 0: |0| + |2| + |-2| = 4, squares 0 + 4 + 4 = 8; row 1: 1 + 1 + 1 = 3, squares 3.
  close(scores("reciprocal_manhattan", X, q), [1 / 4, 1 / 3]);
  close(scores("reciprocal_euclidean", X, q), [1 / 8, 1 / 3]);
  // Negative entries are fine for the distances.
  close(scores("reciprocal_manhattan", mat([[-1, 1]]), [1, 1]), [1 / 2]);
});

Deno.test("normalized_dot: rows and query scaled to sum 1, by hand", () => {
  const X = mat([[1, 2, 0], [0, 1, 1], [0, 0, 0]]);
  // x^0 = (1/3, 2/3, 0), x^1 = (0, 1/2, 1/2), q^ = (1/3, 0, 2/3); the zero row has no distribution.
  close(scores("normalized_dot", X, [1, 0, 2]), [1 / 9, 1 / 3, 0]);
  // Scaling a row or the query changes nothing.
  close(scores("normalized_dot", mat([[10, 20, 0]]), [5, 0, 10]), [1 / 9]);
});

Deno.test("kl, reverse_kl, js: UHN's directions on sum-normalized rows, by hand", () => {
  const X = mat([[1, 2, 1], [1, 1, 1], [0, 1, 1]]);
  const q = [1, 1, 2]; // q^ = (1/4, 1/4, 1/2)
  // kl = 1 / KL(x^ || q^) (UHN `KL_divergence`): the memory's distribution against the query's.
  const kl0 = 0.25 * 0 + 0.5 * ln(2) + 0.25 * ln(0.5); // x^0 = (1/4, 1/2, 1/4)
  const kl1 = (ln(4 / 3) + ln(4 / 3) + ln(2 / 3)) / 3; // x^1 = (1/3, 1/3, 1/3)
  const kl2 = 0 + 0.5 * ln(2) + 0.5 * 0; // x^2 = (0, 1/2, 1/2): x log x at 0 is 0
  close(scores("kl", X, q), [1 / kl0, 1 / kl1, 1 / kl2]);
  // reverse_kl = 1 / KL(q^ || x^): where x^ is 0 and q^ is not, the log counts x^ as LOG_FLOOR.
  const r0 = 0.25 * 0 + 0.25 * ln(0.5) + 0.5 * ln(2);
  const r1 = 0.5 * ln(0.75) + 0.5 * ln(1.5);
  const r2 = 0.25 * (ln(0.25) - ln(LOG_FLOOR)) + 0.25 * ln(0.5) + 0;
  close(scores("reverse_kl", X, q), [1 / r0, 1 / r1, 1 / r2]);
  // js = 1 / JS, JS = KL(a || m) / 2 + KL(b || m) / 2 with m = (a + b) / 2.
  const js = (a: number[], b: number[]) =>
    a.reduce((s, ai, j) => {
      const m = (ai + b[j]) / 2;
      return s + 0.5 * (ai > 0 ? ai * ln(ai / m) : 0) + 0.5 * (b[j] > 0 ? b[j] * ln(b[j] / m) : 0);
    }, 0);
  const qh = [0.25, 0.25, 0.5];
  const j0 = 0.5 * ln(4 / 3) + 0.25 * ln(2 / 3); // worked out: m = (1/4, 3/8, 3/8)
  assert.ok(Math.abs(js([0.25, 0.5, 0.25], qh) - j0) < 1e-15);
  const j2 = 0.25 * ln(4 / 3) + 0.125 * ln(2) + 0.125 * ln(2 / 3); // m = (1/8, 3/8, 1/2)
  assert.ok(Math.abs(js([0, 0.5, 0.5], qh) - j2) < 1e-15);
  close(scores("js", X, q), [1 / j0, 1 / js([1 / 3, 1 / 3, 1 / 3], qh), 1 / j2]);
  // The most similar memory scores highest under all three: the query itself beats the others.
  const Xq = mat([[1, 2, 1], [1, 1, 2], [2, 1, 1]]);
  for (const kind of ["kl", "reverse_kl", "js"] as const) {
    const s = scores(kind, Xq, q);
    assert.ok(s[1] > s[0] && s[1] > s[2], `${kind}: ${s}`);
  }
});

Deno.test("zero distance: an exact match scores a large finite number, the same as the floor says", () => {
  const x = [0.5, 0, 1, 0.25];
  const X = mat([x, [1, 1, 1, 1]]);
  const l1 = 2 * (0.5 + 1 + 0.25), sq = 2 * (0.25 + 1 + 0.0625);
  close(scores("reciprocal_manhattan", X, x).slice(0, 1), [1 / (RELATIVE_FLOOR * l1)]);
  close(scores("reciprocal_euclidean", X, x).slice(0, 1), [1 / (RELATIVE_FLOOR * sq)]);
  for (const kind of ["kl", "reverse_kl", "js"] as const) {
    close(scores(kind, X, x).slice(0, 1), [1 / DIVERGENCE_FLOOR]);
  }
  // All zeros: the absolute floor for the distances, score 0 for the divergences.
  const Z = mat([[0, 0, 0, 0]]);
  for (const kind of UHN_SIMILARITIES) {
    const [s] = scores(kind, Z, [0, 0, 0, 0]);
    assert.ok(Number.isFinite(s), `${kind}: ${s}`);
  }
  assert.equal(scores("kl", Z, [0, 0, 0, 0])[0], 0);
});

Deno.test("negative memories or queries: a clear error naming the data and the first entry", () => {
  const X = mat([[0.5, 0.2], [0.1, -0.3]]);
  const Q = mat([[0.2, 0.2]]);
  for (const kind of ["kl", "reverse_kl", "js", "normalized_dot"]) {
    const m = model(`similarity ${kind}`);
    assert.throws(
      () => retrieveReference(m, X, Q),
      (e: unknown) =>
        e instanceof HopError &&
        /memories: similarity `\w+` needs non-negative memories: the first negative entry is row 1, column 1 \(index 3\), value -0.3/
          .test(`${e.diagnostics[0].file}: ${e.diagnostics[0].message}`),
    );
    assert.throws(
      () => retrieveReference(m, Q, mat([[0.1, 0], [-2, 1]])),
      /needs non-negative queries: the first negative entry is row 1, column 0 \(index 2\), value -2/,
    );
  }
  // The distances accept any sign; layernorm would make the states negative.
  retrieveReference(model("similarity reciprocal_manhattan"), X, Q);
  assert.throws(
    () => retrieveReference(model("similarity kl post layernorm"), Q, Q),
    /needs non-negative states, and post layernorm makes entries negative/,
  );
});

// ---- GPU against the float64 reference ------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Non-negative memories with exact zeros (20%), queries: fresh random rows and two memories. */
function data(M: number, D: number, B: number, seed: number): { X: Mat; Q: Mat } {
  const r = rng(seed);
  const X = { rows: M, cols: D, data: new Float64Array(M * D) };
  for (let i = 0; i < M * D; i++) X.data[i] = r() < 0.2 ? 0 : r();
  const Q = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let i = 0; i < B * D; i++) Q.data[i] = r() < 0.2 ? 0 : r();
  Q.data.set(X.data.subarray(0, D), 0); // an exact match: the floored score
  for (let j = 0; j < D; j++) Q.data[D + j] = Math.max(0, X.data[D + j] + 0.2 * (r() - 0.5));
  return { X, Q };
}

/** A beta that spreads the weights of a random query: 3 / (top score - median score). */
function spreadBeta(kind: Similarity["kind"], X: Mat, q: Float64Array): number {
  const s = scores(kind, X, [...q]).sort((a, b) => b - a);
  return Number((3 / (s[0] - s[s.length >> 1])).toPrecision(3));
}

async function agree(m: Model, X: Mat, Q: Mat, choices: RunChoices, what: string) {
  const r = await load(m, X, undefined, choices);
  try {
    const out = await r.retrieve(Q, { weights: true });
    const ref = retrieveReference(m, X, Q);
    let err = 0, big = 0, werr = 0;
    for (let i = 0; i < Q.rows * Q.cols; i++) {
      assert.ok(Number.isFinite(out.states[i]), `${what}: state ${i} is ${out.states[i]}`);
      err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
      big = Math.max(big, Math.abs(ref.states.data[i]));
    }
    for (let i = 0; i < ref.weights.data.length; i++) {
      werr = Math.max(werr, Math.abs(out.weights![i] - ref.weights.data[i]));
    }
    assert.ok(err / big <= 1e-4, `${what}: state error ${(err / big).toExponential(2)}`);
    assert.ok(werr <= 1e-4, `${what}: weight error ${werr.toExponential(2)}`);
    // The exact match (query 0) retrieves its memory: its score is the floored maximum
    // (normalized_dot is no distance: x . x is not its largest value).
    const oneStep = m.post.kind === "identity" && m.steps.kind === "fixed" && m.steps.count === 1;
    if (!oneStep) return; // the weights of a later step belong to a moved state
    if (m.similarity.kind !== "normalized_dot") {
      assert.ok(ref.weights.data[0] > 0.999, `${what}: weight of the exact match`);
    }
    // A random query (query 2) spreads its weight: the comparison is not of one-hot rows.
    const w2 = ref.weights.data.subarray(2 * X.rows, 3 * X.rows);
    assert.ok(w2.filter((w) => w > 0).length >= 3, `${what}: query 2 has under 3 memories`);
  } finally {
    r.destroy();
  }
}

const PLANS: { label: string; choices: RunChoices }[] = [
  { label: "rules", choices: {} },
  {
    label: "threePass q8 r4",
    choices: { blocked: { schedule: "threePass", queriesPerThread: 8, rowBlock: 4 } },
  },
  {
    label: "tiled q4 r2 wg16",
    choices: {
      blocked: { tile: "workgroup", queriesPerThread: 4, rowBlock: 2, workgroupSize: 16 },
    },
  },
  { label: "workgroup kernel", choices: { kernel: "workgroup" } },
];

for (const kind of UHN_SIMILARITIES) {
  gpuTest(`GPU agrees with float64: ${kind} x softmax, sparsemax, post tanh / l2`, async () => {
    const { X, Q } = data(150, 37, 7, 17);
    const beta = spreadBeta(kind, X, Q.data.subarray(2 * 37, 3 * 37));
    const fields = [
      `similarity ${kind} beta ${beta}`,
      // sparsemax cuts at a margin of 1 in beta * s: a smaller beta keeps a support of several.
      `similarity ${kind} entropy sparsemax beta ${Number((beta / 6).toPrecision(3))}`,
      `similarity ${kind} post ${
        kind === "reciprocal_euclidean" ? "l2" : "tanh"
      } beta ${beta} steps 2`,
    ];
    for (const f of fields) {
      const m = model(f);
      // One-step models under every plan shape; the stepped one under the rules.
      for (const { label, choices } of f.includes("steps") ? PLANS.slice(0, 1) : PLANS) {
        await agree(m, X, Q, choices, `${f} [${label}]`);
      }
    }
    // softmax: the fused schedule (one pass over X per step).
    await agree(
      model(fields[0]),
      X,
      Q,
      { blocked: { schedule: "fused", rowBlock: 2 } },
      `${fields[0]} [fused]`,
    );
  });
}

gpuTest(
  "GPU path: negative memories or queries fail before any work, naming the entry",
  async () => {
    const m = model("similarity js");
    const X = mat([[0.5, 0.2, 0, 1], [0.1, 0.3, -0.5, 0]]);
    await assert.rejects(
      () => load(m, X),
      /non-negative memories: the first negative entry is row 1, column 2 \(index 6\), value -0.5/,
    );
    const r = await load(m, mat([[0.5, 0.2, 0, 1], [0.1, 0.3, 0.5, 0]]));
    try {
      await assert.rejects(
        () => r.retrieve(mat([[1, 1, 1, 1], [1, -1e-9, 0, 0]])),
        /non-negative queries: the first negative entry is row 1, column 1 \(index 5\), value -1e-9/,
      );
    } finally {
      r.destroy();
    }
  },
);

gpuTest(
  "generated-module runtime: negative or non-finite memories and queries are refused, naming the entry",
  async ({ device }) => {
    const kernel = kernelSpec(model("similarity kl"));
    assert.equal(kernel.nonNegativeInputs, true);
    assert.equal(kernelSpec(model("similarity dot")).nonNegativeInputs, undefined);
    await assert.rejects(
      () => Retrieval.load(device, kernel, [0.5, 0.2, 0, 1, 0.1, 0.3, -0.5, 0], 2, 4),
      /needs non-negative memories: the entry at row 1, column 2 \(index 6\) is -0.5/,
    );
    const r = await Retrieval.load(device, kernel, [0.5, 0.2, 0, 1, 0.1, 0.3, 0.5, 0], 2, 4);
    try {
      await assert.rejects(
        () => r.retrieve([1, 1, 1, 1, 1, -1e-9, 0, 0], 2),
        /needs non-negative queries: the entry at row 1, column 1 \(index 5\) is -1e-9/,
      );
      await assert.rejects(
        () => r.retrieve([1, 1, NaN, 1], 1),
        /queries must be finite numbers: the entry at row 0, column 2 \(index 2\) is NaN/,
      );
      const out = await r.retrieve([1, 1, 1, 1], 1);
      assert.ok([...out.states].every(Number.isFinite));
    } finally {
      r.destroy();
    }
    // Every model checks finiteness, not only the distribution similarities.
    await assert.rejects(
      () => Retrieval.load(device, kernelSpec(model("similarity dot")), [1, Infinity], 1, 2),
      /memories must be finite numbers: the entry at row 0, column 1 \(index 1\) is Infinity/,
    );
  },
);

gpuTest(
  "GPU agrees with float64: normalized_dot on a continuous memory (its signal's 1 / sum per point from the host)",
  async () => {
    const { X, Q } = data(60, 24, 6, 5);
    for (
      const f of [
        "memory continuous(basis = gaussian, functions = 16) similarity normalized_dot beta 3000",
        "memory continuous(basis = box, functions = 12, quadrature = trapezoid) similarity normalized_dot entropy sparsemax beta 500",
      ]
    ) {
      const m = model(f);
      const r = await load(m, X);
      try {
        const out = await r.retrieve(Q);
        const ref = retrieveReference(m, X, Q);
        let err = 0, big = 0;
        for (let i = 0; i < Q.rows * Q.cols; i++) {
          err = Math.max(err, Math.abs(out.states[i] - ref.states.data[i]));
          big = Math.max(big, Math.abs(ref.states.data[i]));
        }
        assert.ok(err / big <= 1e-4, `${f}: state error ${(err / big).toExponential(2)}`);
      } finally {
        r.destroy();
      }
    }
  },
);

Deno.test("hopc retrieve: negative data for kl exits 1 with the file, row, column and value, on both devices", async () => {
  const { main } = await import("../src/cli/main.ts");
  const { encodeNpy } = await import("../src/io/npy.ts");
  const dir = await Deno.makeTempDir({ prefix: "hopc-uhn-" });
  try {
    await Deno.writeTextFile(`${dir}/m.hop`, "model m { similarity kl }\n");
    await Deno.writeFile(`${dir}/X.npy`, encodeNpy(mat([[0.5, 0.25], [0.125, 0]])));
    await Deno.writeFile(`${dir}/Q.npy`, encodeNpy(mat([[0.5, 0.25], [0.75, -0.5]])));
    for (const device of ["cpu", "gpu"]) {
      const err: string[] = [];
      const code = await main(
        [
          "retrieve",
          `${dir}/m.hop`,
          "--memories",
          `${dir}/X.npy`,
          "--queries",
          `${dir}/Q.npy`,
          "-o",
          `${dir}/o.npy`,
          "--device",
          device,
        ],
        { out: () => {}, err: (t) => err.push(t) },
      );
      if (device === "gpu" && code === 3) continue; // no adapter here
      assert.equal(code, 1, err.join("\n"));
      assert.match(
        err.join("\n"),
        new RegExp(
          `${dir}/Q\\.npy.*needs non-negative queries: the first negative entry is row 1, column 1 \\(index 3\\), value -0\\.5`,
        ),
      );
      await assert.rejects(() => Deno.stat(`${dir}/o.npy`), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

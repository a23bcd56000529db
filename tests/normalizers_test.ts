// Tests of the float64 reference normalizers (src/parts/entropy/*): the authors' library outputs
// (../../shared/vectors/normalizers.json), hand-checked small cases, and fast-check properties
// (simplex, exact zeros, shift invariance, solver agreement, margins, masking, conjugates).
import assert from "node:assert/strict";
import fc from "fast-check";
import { logsumexp, shannon, shannonOmega, softmax } from "../src/parts/entropy/shannon.ts";
import {
  entmax15FixedPoint,
  entmax15Sort,
  entmaxBisect,
  type FixedPointInfo,
  sparsemaxFixedPoint,
  sparsemaxSort,
  tsallis,
  tsallisOmega,
} from "../src/parts/entropy/tsallis.ts";
import { sparsemax } from "../src/parts/entropy/sparsemax.ts";
import {
  normmax,
  normmax2Closed,
  normmaxBisect,
  normmaxOmega,
} from "../src/parts/entropy/normmax.ts";
import { budgetBisect, ksubsets, ksubsetsOmega } from "../src/parts/entropy/ksubsets.ts";
import { log1pSumExp, softmax1, softmax1Map } from "../src/parts/entropy/softmax1.ts";
import { entropies } from "../src/parts/registry.ts";
import { type Entropy, shiftInvariant, sparseEntropy } from "../src/ir.ts";

type Map = (s: Float64Array) => Float64Array;
const F = (xs: number[]) => Float64Array.from(xs);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = "") {
  const d = maxAbsDiff(a, b);
  assert.ok(
    d <= tol,
    `${what}: max |diff| = ${d} > ${tol}\n  got ${Array.from(a)}\n want ${Array.from(b)}`,
  );
}

const sum = (p: ArrayLike<number>) => Array.prototype.reduce.call(p, (s, v) => s + v, 0) as number;

// Every implementation of every map, by the name of its key in normalizers.json.
const IMPLS: Record<string, [string, Map][]> = {
  softmax: [["softmax", softmax], [
    "shannon part",
    (s) => shannon.reference(s, { kind: "shannon" }),
  ]],
  sparsemax: [
    ["sort", sparsemaxSort],
    ["fixed point", (s) => sparsemaxFixedPoint(s)],
    ["bisection", (s) => entmaxBisect(s, 2)],
    ["sparsemax part", (s) => sparsemax.reference(s, { kind: "sparsemax" })],
    ["tsallis(2) part", (s) => tsallis.reference(s, { kind: "tsallis", alpha: 2 })],
  ],
  entmax15: [
    ["sort", entmax15Sort],
    ["fixed point", (s) => entmax15FixedPoint(s)],
    ["bisection", (s) => entmaxBisect(s, 1.5)],
    ["tsallis(1.5) part", (s) => tsallis.reference(s, { kind: "tsallis", alpha: 1.5 })],
  ],
  "entmax_alpha1.25": [
    ["tsallis(1.25) part", (s) => tsallis.reference(s, { kind: "tsallis", alpha: 1.25 })],
  ],
  entmax_alpha3: [["tsallis(3) part", (s) => tsallis.reference(s, { kind: "tsallis", alpha: 3 })]],
  normmax_gamma2: [
    ["closed form", normmax2Closed],
    ["bisection", (s) => normmaxBisect(s, 2)],
    ["normmax(2) part", (s) => normmax.reference(s, { kind: "normmax", gamma: 2 })],
  ],
  normmax_gamma5: [["normmax(5) part", (s) => normmax.reference(s, { kind: "normmax", gamma: 5 })]],
  ksubsets_k2: [["ksubsets(2) part", (s) => ksubsets.reference(s, { kind: "ksubsets", k: 2 })]],
};

// ----------------------------------------------------------------------------------------------
// Reference vectors from deep-spin/entmax (float64, 200-iteration bisection).

interface VectorCase {
  scores: number[];
  [key: string]: number[];
}
const vectors: { source: string; cases: VectorCase[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../../shared/vectors/normalizers.json", import.meta.url)),
);

// The observed worst deviation is 6e-14 (the 3000-offset case, where the library does not subtract
// the max and so loses ~ulp(3000) in τ); 1e-12 leaves a margin while still failing any real error.
const VECTOR_TOL = 1e-12;

Deno.test("vectors: the file has every key the tests expect", () => {
  const keys = new Set(vectors.cases.flatMap((c) => Object.keys(c)));
  for (const k of Object.keys(IMPLS)) assert.ok(keys.has(k), `missing key ${k}`);
  for (const k of keys) assert.ok(k === "scores" || k in IMPLS, `untested key ${k}`);
  assert.ok(vectors.cases.length >= 20);
});

for (const [key, impls] of Object.entries(IMPLS)) {
  Deno.test(`vectors: ${key} matches deep-spin/entmax to ${VECTOR_TOL}`, () => {
    let n = 0;
    for (const [ci, c] of vectors.cases.entries()) {
      if (!(key in c)) continue;
      n++;
      for (const [name, f] of impls) {
        assertClose(f(F(c.scores)), c[key], VECTOR_TOL, `${key} / ${name} / case ${ci}`);
      }
    }
    assert.ok(n >= 20, `${key}: only ${n} cases`);
  });
}

// ----------------------------------------------------------------------------------------------
// Hand-checked cases.

Deno.test("hand: sparsemax([1, 0.5, -1]) = [0.75, 0.25, 0]", () => {
  // Sorted 1, 0.5, −1. k=1: 1 + 1·1 > 1 ✓; k=2: 1 + 2·0.5 = 2 > 1.5 ✓; k=3: 1 − 3 = −2 > 0.5 ✗.
  // τ = (1 + 0.5 − 1)/2 = 0.25, p = [0.75, 0.25, 0].
  for (const f of IMPLS.sparsemax.map(([, f]) => f)) {
    assertClose(f(F([1, 0.5, -1])), [0.75, 0.25, 0], 1e-15, "sparsemax");
  }
});

Deno.test("hand: 1.5-entmax([2, 1, -2]) = [(4+√7)/8, (4−√7)/8, 0]", () => {
  // x = (z − 2)/2 = [0, −0.5, −2]. Support {1, 2}: τ² + (0.5 + τ)² = 1 ⇒ 2τ² + τ − 3/4 = 0
  // ⇒ τ = (−1 − √7)/4 ≈ −0.911 (< −0.5, and ≥ −2 so the third entry is out).
  // p₁ = τ² = (4 + √7)/8 ≈ 0.8307, p₂ = (τ + 0.5)² = (4 − √7)/8 ≈ 0.1693, p₃ = 0.
  const r7 = Math.sqrt(7);
  const want = [(4 + r7) / 8, (4 - r7) / 8, 0];
  for (const [name, f] of IMPLS.entmax15) assertClose(f(F([2, 1, -2])), want, 1e-14, name);
});

Deno.test("hand: 2-normmax([1, 0.5, -1]) = [(1+√7), (√7−1), 0]/(2√7)", () => {
  // u = [z − max − τ]_+ with Σu² = 1: z − max = [0, −0.5, −2], the same equation as above:
  // u = [(1+√7)/4, (√7−1)/4, 0], Σu = √7/2, p = u/Σu.
  const r7 = Math.sqrt(7);
  const want = [(1 + r7) / (2 * r7), (r7 - 1) / (2 * r7), 0];
  for (const [name, f] of IMPLS.normmax_gamma2) assertClose(f(F([1, 0.5, -1])), want, 1e-14, name);
});

Deno.test("hand: ksubsets(k=2)([3, 1.2, 1, -1]) = [1, 0.6, 0.4, 0]", () => {
  // With the first entry at 1: (1.2 − τ) + (1 − τ) = 1 ⇒ τ = 0.6; 3 − 0.6 ≥ 1 and −1 − 0.6 < 0.
  assertClose(budgetBisect(F([3, 1.2, 1, -1]), 2), [1, 0.6, 0.4, 0], 1e-15, "ksubsets");
  // k ≥ N: all ones; k = N − 1 with a gap ≥ 1: the top-k indicator.
  assert.deepEqual([...budgetBisect(F([0.3, -2]), 2)], [1, 1]);
  assert.deepEqual([...budgetBisect(F([5, 4, 3, 0]), 3)], [1, 1, 1, 0]);
});

Deno.test("hand: softmax1", () => {
  // exp(0)/(1 + 2·exp(0)) = 1/3; exp(ln 2)/(1 + 2) = 2/3; empty set → log(1) = 0.
  assertClose(softmax1Map(F([0, 0])), [1 / 3, 1 / 3], 1e-16, "softmax1 [0,0]");
  assertClose(softmax1Map(F([Math.log(2)])), [2 / 3], 1e-15, "softmax1 [ln 2]");
  assert.ok(Math.abs(log1pSumExp(F([0, 0])) - Math.log(3)) < 1e-15);
  const spec = { kind: "softmax1" } as const;
  const s = F([0.5, -1]);
  assert.deepEqual([...softmax1.reference(s, spec)], [...softmax1Map(s)]);
  const want = Math.log(1 + Math.exp(0.5) + Math.exp(-1));
  assert.ok(Math.abs(softmax1.conjugate(s, softmax1Map(s), spec) - want) < 1e-15);
  // Very negative scores: m' = 0 keeps exp(−m') finite; weights exp(−1000)/1 underflow to 0.
  assertClose(softmax1Map(F([-1000, -1001])), [0, 0], 0, "softmax1 very negative");
  // Very positive scores: the no-op memory vanishes, softmax1 → softmax.
  assertClose(softmax1Map(F([1000, 1000])), [0.5, 0.5], 1e-15, "softmax1 very positive");
  assert.ok(Math.abs(log1pSumExp(F([1000, 1000])) - (1000 + Math.log(2))) < 1e-12);
});

// ----------------------------------------------------------------------------------------------
// Generators.

/**
 * Score rows of length 1..300: integers on a dyadic grid 2^e (magnitudes 1e-3..1e3), optionally
 * quantized to a few levels (many ties), plus an offset (up to 2^20). All values are exact, so
 * adding the shifts below is exact too.
 */
const scoreRow = (maxLength = 300) =>
  fc.tuple(
    fc.oneof(
      // fast-check biases lengths to small ones by default; "max" spreads them over 1..maxLength.
      fc.array(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), { minLength: 1, maxLength }),
      fc.array(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), {
        minLength: 1,
        maxLength,
        size: "max",
      }),
    ),
    fc.integer({ min: -30, max: -10 }),
    fc.constantFrom(0, 0, 2 ** 16, 2 ** 19),
    fc.constantFrom(0, 0, 0.75, -3, 1024, -5000, 2 ** 20),
  ).map(([ints, e, q, off]) =>
    Float64Array.from(ints, (k) => off + (q ? Math.round(k / q) * q : k) * 2 ** e)
  );

const shiftArb = fc.constantFrom(0.5, -3, 17.25, -1024, 2 ** 19);

/** All maps onto the simplex (name, map, entropy spec for the sparse/threshold checks). */
interface SimplexMap {
  name: string;
  f: Map;
  kind: "softmax" | "entmax" | "normmax";
  param: number;
}
const SIMPLEX: SimplexMap[] = [
  { name: "softmax", f: softmax, kind: "softmax", param: 1 },
  { name: "sparsemax sort", f: sparsemaxSort, kind: "entmax", param: 2 },
  { name: "sparsemax fixed point", f: (s) => sparsemaxFixedPoint(s), kind: "entmax", param: 2 },
  { name: "sparsemax bisection", f: (s) => entmaxBisect(s, 2), kind: "entmax", param: 2 },
  { name: "1.5-entmax sort", f: entmax15Sort, kind: "entmax", param: 1.5 },
  { name: "1.5-entmax fixed point", f: (s) => entmax15FixedPoint(s), kind: "entmax", param: 1.5 },
  { name: "1.5-entmax bisection", f: (s) => entmaxBisect(s, 1.5), kind: "entmax", param: 1.5 },
  { name: "1.25-entmax", f: (s) => entmaxBisect(s, 1.25), kind: "entmax", param: 1.25 },
  { name: "3-entmax", f: (s) => entmaxBisect(s, 3), kind: "entmax", param: 3 },
  { name: "2-normmax closed", f: normmax2Closed, kind: "normmax", param: 2 },
  { name: "2-normmax bisection", f: (s) => normmaxBisect(s, 2), kind: "normmax", param: 2 },
  { name: "5-normmax", f: (s) => normmaxBisect(s, 5), kind: "normmax", param: 5 },
];

function argmax(p: ArrayLike<number>): number {
  let j = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[j]) j = i;
  return j;
}

// ----------------------------------------------------------------------------------------------
// Properties.

Deno.test("property: outputs lie on the simplex (p ≥ 0, Σp = 1 within 1e-9)", () => {
  for (const m of SIMPLEX) {
    fc.assert(
      fc.property(scoreRow(), (s) => {
        const p = m.f(s);
        assert.equal(p.length, s.length);
        for (const v of p) assert.ok(v >= 0 && v <= 1 + 1e-12, `${m.name}: entry ${v}`);
        assert.ok(Math.abs(sum(p) - 1) <= 1e-9, `${m.name}: Σp = ${sum(p)}`);
      }),
      { numRuns: 60 },
    );
  }
});

Deno.test("property: sparse maps give exact zeros below the threshold, positives above", () => {
  for (const m of SIMPLEX.filter((m) => m.kind !== "softmax")) {
    fc.assert(
      fc.property(scoreRow(), (s) => {
        const p = m.f(s);
        let max = -Infinity;
        for (const v of s) max = Math.max(max, v);
        const j = argmax(p);
        // Recover τ from the largest weight, then every entry's side of it is determined.
        let key: (i: number) => number;
        let tau: number;
        if (m.kind === "entmax") {
          const a = m.param;
          key = (i) => (a - 1) * (s[i] - max);
          tau = key(j) - Math.pow(p[j], a - 1);
        } else {
          const g = m.param;
          let ng = 0;
          for (const v of p) ng += Math.pow(v / p[j], g);
          const uj = 1 / Math.pow(ng, 1 / g); // u_j = p_j/‖p‖_γ
          key = (i) => s[i] - max;
          tau = key(j) - Math.pow(uj, g - 1);
        }
        const tol = 1e-9;
        for (let i = 0; i < s.length; i++) {
          if (key(i) < tau - tol) assert.equal(p[i], 0, `${m.name}: entry ${i} should be 0`);
          if (key(i) > tau + tol) assert.ok(p[i] > 0, `${m.name}: entry ${i} should be > 0`);
        }
      }),
      { numRuns: 60 },
    );
  }
});

Deno.test("property: invariance to adding a constant (all but softmax1)", () => {
  const maps: [string, Map][] = [
    ...SIMPLEX.map((m): [string, Map] => [m.name, m.f]),
    ["ksubsets(3)", (s) => budgetBisect(s, 3)],
  ];
  for (const [name, f] of maps) {
    fc.assert(
      fc.property(scoreRow(), shiftArb, (s, c) => {
        assertClose(f(s.map((v) => v + c)), f(s), 1e-9, name);
      }),
      { numRuns: 40 },
    );
  }
});

Deno.test("property: softmax1 is NOT shift invariant and sums below 1", () => {
  // Adding c > 0 raises every weight relative to the no-op memory: Σ grows strictly.
  const s = F([0.3, -1, 2]);
  const a = softmax1Map(s);
  const b = softmax1Map(s.map((v) => v + 1));
  assert.ok(sum(b) > sum(a) + 0.01, `softmax1 sums ${sum(a)} → ${sum(b)}`);
  assert.ok(maxAbsDiff(a, b) > 0.01);
  fc.assert(
    fc.property(scoreRow(), (s) => {
      const p = softmax1Map(s);
      let max = -Infinity;
      for (const v of s) max = Math.max(max, v);
      for (const v of p) assert.ok(v >= 0);
      assert.ok(sum(p) <= 1 + 1e-12);
      // The no-op share exp(−m')/den is resolvable in float64 when max θ ≤ 30.
      if (max <= 30) assert.ok(sum(p) < 1, `softmax1 Σ = ${sum(p)}`);
      // Exactly softmax over [θ, 0] with the last weight dropped.
      const aug = softmax(F([...s, 0]));
      assertClose(p, aug.subarray(0, s.length), 1e-15, "softmax1 vs augmented softmax");
      if (max <= 10 && max >= -30) { // (below that every weight underflows to 0)
        const q = softmax1Map(s.map((v) => v + 1));
        assert.ok(sum(q) > sum(p), "softmax1: Σ must grow when the scores grow");
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("property: sort = bisection = fixed point (sparsemax, 1.5-entmax)", () => {
  fc.assert(
    fc.property(scoreRow(), (s) => {
      const info: FixedPointInfo = { iterations: 0, converged: false };
      const sort2 = sparsemaxSort(s);
      assertClose(entmaxBisect(s, 2), sort2, 1e-12, "sparsemax bisection vs sort");
      assertClose(sparsemaxFixedPoint(s, info), sort2, 1e-12, "sparsemax fixed point vs sort");
      assert.ok(info.converged && info.iterations <= s.length + 1, "sparsemax fp converged");
      const sort15 = entmax15Sort(s);
      assertClose(entmaxBisect(s, 1.5), sort15, 1e-12, "1.5-entmax bisection vs sort");
      assertClose(entmax15FixedPoint(s, info), sort15, 1e-12, "1.5-entmax fixed point vs sort");
      assert.ok(info.converged, `1.5-entmax fp did not converge (${info.iterations})`);
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: 2-normmax closed form = bisection (1e-9)", () => {
  fc.assert(
    fc.property(scoreRow(), (s) => {
      assertClose(normmax2Closed(s), normmaxBisect(s, 2), 1e-9, "2-normmax");
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: margins — ŷ([s,0,…,0]) = e₁ iff s ≥ m", () => {
  const cases: [string, Map, number][] = [
    ["1.25-entmax", (v) => entmaxBisect(v, 1.25), 1 / 0.25],
    ["1.5-entmax sort", entmax15Sort, 2],
    ["1.5-entmax fixed point", (v) => entmax15FixedPoint(v), 2],
    ["1.5-entmax bisection", (v) => entmaxBisect(v, 1.5), 2],
    ["sparsemax sort", sparsemaxSort, 1],
    ["sparsemax fixed point", (v) => sparsemaxFixedPoint(v), 1],
    ["sparsemax bisection", (v) => entmaxBisect(v, 2), 1],
    ["3-entmax", (v) => entmaxBisect(v, 3), 0.5],
    ["2-normmax closed", normmax2Closed, 1],
    ["2-normmax bisection", (v) => normmaxBisect(v, 2), 1],
    ["5-normmax", (v) => normmaxBisect(v, 5), 1],
  ];
  for (const [name, f, m] of cases) {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        (n, up, down) => {
          const row = (s: number) => {
            const v = new Float64Array(n);
            v[0] = s;
            return v;
          };
          // At or above the margin: exactly e₁.
          const above = f(row(m * (1 + 1e-9) * (1 + up)));
          assert.equal(above[0], 1, `${name}: p₁ = ${above[0]} at s ≥ m`);
          for (let i = 1; i < n; i++) assert.equal(above[i], 0, `${name}: p_${i} at s ≥ m`);
          // Clearly below it: not e₁ (p₁ < 1, the rest positive).
          const below = f(row(m * (1 - 1e-3) * down));
          assert.ok(below[0] < 1, `${name}: p₁ = ${below[0]} at s < m`);
          for (let i = 1; i < n; i++) assert.ok(below[i] > 0, `${name}: p_${i} at s < m`);
        },
      ),
      { numRuns: 50 },
    );
  }
});

Deno.test("property: ksubsets — Σμ = k, μ ∈ [0,1], exact top-k indicator when the gap is ≥ 1", () => {
  fc.assert(
    fc.property(scoreRow(), fc.integer({ min: 1, max: 20 }), (s, k) => {
      const mu = budgetBisect(s, k);
      for (const v of mu) assert.ok(v >= 0 && v <= 1, `μ entry ${v}`);
      const want = Math.min(k, s.length);
      assert.ok(Math.abs(sum(mu) - want) <= 1e-9, `Σμ = ${sum(mu)}, k = ${want}`);
      // μ = clip(θ − τ, 0, 1): with τ from any free entry, everything else is on its side.
      let maxs = -Infinity;
      for (const v of s) maxs = Math.max(maxs, v);
      const free = [...mu.keys()].find((i) => mu[i] > 0 && mu[i] < 1);
      if (free !== undefined) {
        const tau = s[free] - maxs - mu[free];
        for (let i = 0; i < s.length; i++) {
          const d = s[i] - maxs - tau;
          if (d < -1e-9) assert.equal(mu[i], 0);
          if (d > 1 + 1e-9) assert.equal(mu[i], 1);
          if (d > 1e-9 && d < 1 - 1e-9) assert.ok(Math.abs(mu[i] - d) < 1e-9);
        }
      }
    }),
    { numRuns: 200 },
  );
  // Top-k with a gap ≥ 1 between the k-th and (k+1)-th largest: exactly the indicator. Values
  // are on the dyadic grid 2^-20 (below 2^18 in size), so every sum and difference here is exact
  // and "gap ≥ 1" holds exactly, including gap = 1 itself.
  const g = 2 ** -20;
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -50 * 2 ** 20, max: 50 * 2 ** 20 }), {
        minLength: 2,
        maxLength: 300,
        size: "max",
      }),
      fc.integer({ min: 1, max: 299 }),
      fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 * 2 ** 20 })),
      fc.constantFrom(0, 1024, -(2 ** 17)),
      (base, kk, extra, off) => {
        const n = base.length;
        const k = 1 + (kk % (n - 1));
        // The k largest (lowest index among ties) are lifted to a gap of exactly 1 + extra·g.
        const order = base.map((_, i) => i).sort((a, b) => base[b] - base[a] || a - b);
        const top = new Set(order.slice(0, k));
        const lift = base[order[k]] - base[order[k - 1]] + 2 ** 20 + extra;
        const s = Float64Array.from(base, (v, i) => off + (top.has(i) ? v + lift : v) * g);
        const mu = budgetBisect(s, k);
        for (let i = 0; i < n; i++) assert.equal(mu[i], top.has(i) ? 1 : 0, `μ_${i}`);
      },
    ),
    { numRuns: 300 },
  );
});

/** Every map of the registry's entropy parts with a representative spec. */
const PART_SPECS: Entropy[] = [
  { kind: "shannon" },
  { kind: "sparsemax" },
  { kind: "tsallis", alpha: 1.5 },
  { kind: "tsallis", alpha: 2 },
  { kind: "tsallis", alpha: 1.25 },
  { kind: "tsallis", alpha: 3 },
  { kind: "normmax", gamma: 2 },
  { kind: "normmax", gamma: 5 },
  { kind: "ksubsets", k: 1 },
  { kind: "ksubsets", k: 3 },
  { kind: "softmax1" },
];
// deno-lint-ignore no-explicit-any
const part = (e: Entropy) => entropies[e.kind] as any;
const refOf = (e: Entropy): Map => (s) => part(e).reference(s, e);
const conjOf = (e: Entropy) => (s: Float64Array) => part(e).conjugate(s, refOf(e)(s), e) as number;

Deno.test("property: masked entries (−Infinity) get exactly 0 and do not count", () => {
  for (const spec of PART_SPECS) {
    fc.assert(
      fc.property(
        scoreRow(100),
        fc.array(fc.boolean(), { minLength: 100, maxLength: 100 }),
        (s, drop) => {
          const masked = s.map((v, i) => (drop[i] && i > 0 ? -Infinity : v));
          const kept = masked.filter((v) => v !== -Infinity);
          const p = refOf(spec)(masked);
          const q = refOf(spec)(kept);
          let j = 0;
          for (let i = 0; i < s.length; i++) {
            if (masked[i] === -Infinity) assert.equal(p[i], 0, `${spec.kind}: masked entry`);
            else assert.ok(Math.abs(p[i] - q[j++]) <= 1e-14, `${spec.kind}: kept entry`);
          }
          const c1 = conjOf(spec)(masked);
          const c2 = conjOf(spec)(kept);
          assert.ok(Math.abs(c1 - c2) <= 1e-12 * Math.max(1, Math.abs(c2)), `${spec.kind}: Ω*`);
        },
      ),
      { numRuns: 40 },
    );
  }
});

Deno.test("all entries masked → all-zero weights and Ω* = 0", () => {
  for (const spec of PART_SPECS) {
    for (const n of [1, 5]) {
      const s = new Float64Array(n).fill(-Infinity);
      assert.deepEqual([...refOf(spec)(s)], new Array(n).fill(0), `${spec.kind}`);
      assert.equal(conjOf(spec)(s), 0, `${spec.kind}: conjugate`);
    }
  }
  for (const f of [sparsemaxFixedPoint, entmax15FixedPoint, normmax2Closed]) {
    assert.deepEqual([...f(F([-Infinity, -Infinity]))], [0, 0]);
  }
  assert.deepEqual([...refOf({ kind: "shannon" })(new Float64Array(0))], []);
});

/** Ω of each spec, to test Ω* = max ⟨θ,p⟩ − Ω(p). */
function omegaOf(e: Entropy): (p: Float64Array) => number {
  switch (e.kind) {
    case "shannon":
      return shannonOmega;
    case "sparsemax":
      return (p) => tsallisOmega(p, 2);
    case "tsallis":
      return (p) => tsallisOmega(p, e.alpha);
    case "normmax":
      return (p) => normmaxOmega(p, e.gamma);
    case "ksubsets":
      return ksubsetsOmega;
    case "softmax1":
      // Ω(p) = Σ p log p + (1 − Σp) log(1 − Σp) on {p ≥ 0, Σp ≤ 1}.
      return (p) => {
        const r = 1 - sum(p);
        return shannonOmega(p) + (r > 0 ? r * Math.log(r) : 0);
      };
  }
}

/** A random feasible point of dom Ω for the spec, from raw non-negative draws. */
function feasible(e: Entropy, raw: number[]): Float64Array {
  const w = Float64Array.from(raw, (v) => v * v * v); // some near-zero entries
  if (sum(w) === 0) w[0] = 1;
  const s = sum(w);
  if (e.kind === "ksubsets") {
    // A point of the budget polytope: λ·(a vertex: k entries at 1) + (1 − λ)·(k/n)𝟙.
    const n = w.length;
    const k = Math.min(e.k, n);
    const lambda = raw[0];
    const order = [...w.keys()].sort((a, b) => w[b] - w[a] || a - b);
    const mu = new Float64Array(n).fill(((1 - lambda) * k) / n);
    for (const i of order.slice(0, k)) mu[i] += lambda;
    return mu;
  }
  const p = w.map((v) => v / s);
  if (e.kind === "softmax1") return p.map((v) => v * 0.9); // Σp ≤ 1 allowed
  return p;
}

Deno.test("property: conjugates — Fenchel–Young inequality and ∇Ω* = ŷ", () => {
  for (const spec of PART_SPECS) {
    const omega = omegaOf(spec);
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }),
        (raw, rp) => {
          const s = Float64Array.from(raw);
          const p = refOf(spec)(s);
          const conj = conjOf(spec)(s);
          // Ω*(θ) = ⟨θ,p⟩ − Ω(p) ≥ ⟨θ,q⟩ − Ω(q) for any feasible q (p is the maximizer).
          const q = feasible(spec, rp.slice(0, s.length));
          let tq = 0;
          for (let i = 0; i < s.length; i++) tq += s[i] * q[i];
          assert.ok(conj >= tq - omega(q) - 1e-9, `${spec.kind}: Ω* = ${conj} < ${tq - omega(q)}`);
          // ∇Ω* = ŷ(θ). Ω* is convex, so its one-sided difference quotients bracket the gradient:
          // (Ω*(θ) − Ω*(θ − h e_i))/h ≤ p_i ≤ (Ω*(θ + h e_i) − Ω*(θ))/h (up to rounding), and the
          // bracket closes as h → 0 (near a threshold of 3-entmax or 5-normmax the curvature is
          // large, so a fixed-tolerance central difference would be too strict there).
          const h = 1e-6;
          const c0 = conj;
          for (let i = 0; i < s.length; i++) {
            const a = Float64Array.from(s);
            const b = Float64Array.from(s);
            a[i] += h;
            b[i] -= h;
            const fwd = (conjOf(spec)(a) - c0) / h;
            const bwd = (c0 - conjOf(spec)(b)) / h;
            const slack = 1e-8;
            const what = `${spec.kind}: ∂Ω*/∂θ_${i} ∈ [${bwd}, ${fwd}] vs p = ${p[i]}`;
            assert.ok(bwd - slack <= p[i] && p[i] <= fwd + slack, what);
            assert.ok(fwd - bwd < 1e-3, what);
          }
        },
      ),
      { numRuns: 40 },
    );
  }
});

Deno.test("conjugates: closed forms (logsumexp, sparsemax ½Σ_S(θ²−τ²)+½)", () => {
  const s = F([0.4, -0.2, 1.1, 0.9, -2]);
  let lse = 0;
  for (const v of s) lse += Math.exp(v);
  assert.ok(
    Math.abs(shannon.conjugate(s, softmax(s), { kind: "shannon" }) - Math.log(lse)) < 1e-15,
  );
  assert.ok(Math.abs(logsumexp(F([1000, 1000])) - (1000 + Math.log(2))) < 1e-12);
  const p = sparsemaxSort(s);
  const j = argmax(p);
  const tau = s[j] - p[j];
  let closed = 0.5;
  for (let i = 0; i < s.length; i++) if (p[i] > 0) closed += (s[i] * s[i] - tau * tau) / 2;
  const c = sparsemax.conjugate(s, p, { kind: "sparsemax" });
  assert.ok(Math.abs(c - closed) < 1e-14, `sparsemax Ω* ${c} vs ${closed}`);
});

Deno.test("parts: flags agree with the IR helpers", () => {
  for (const spec of PART_SPECS) {
    assert.equal(part(spec).kind, spec.kind);
    assert.equal(part(spec).shiftInvariant, shiftInvariant(spec), spec.kind);
    assert.equal(part(spec).sparse, sparseEntropy(spec), spec.kind);
    assert.ok(part(spec).math.length > 0);
  }
});

// Tests of the non-normalizer parts: post-transforms, similarities, masks, the counter RNG, the
// random-feature kernel retrieval and the registry.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Mask, Post, Similarity } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { identity } from "../src/parts/post/identity.ts";
import { l2, norm2 } from "../src/parts/post/l2.ts";
import { layernorm } from "../src/parts/post/layernorm.ts";
import { tanh } from "../src/parts/post/tanh.ts";
import { dot } from "../src/parts/similarity/dot.ts";
import { cosine } from "../src/parts/similarity/cosine.ts";
import { euclidean } from "../src/parts/similarity/euclidean.ts";
import { manhattan } from "../src/parts/similarity/manhattan.ts";
import {
  buildKernelState,
  featureMatrix,
  featuresPart,
  kernelStep,
  kernelWeights,
  phi,
} from "../src/parts/similarity/features.ts";
import { topk } from "../src/parts/mask/topk.ts";
import { random } from "../src/parts/mask/random.ts";
import { gaussian, hash3, lowbias32, RNG_WGSL, uniform01 } from "../src/parts/rng.ts";
import {
  entropies,
  entropyPart,
  maskPart,
  masks,
  postPart,
  posts,
  similarities,
  similarityPart,
} from "../src/parts/registry.ts";
import { entmax15Sort } from "../src/parts/entropy/tsallis.ts";

type Features = Extract<Similarity, { kind: "features" }>;

const F = (xs: number[]) => Float64Array.from(xs);
const dotv = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const close = (a: number, b: number, tol: number, what = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);
function closeVec(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = "") {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) close(a[i], b[i], tol, `${what}[${i}]`);
}
function mat(rows: number[][]): Mat {
  return { rows: rows.length, cols: rows[0].length, data: Float64Array.from(rows.flat()) };
}
const row = (X: Mat, i: number) => X.data.subarray(i * X.cols, (i + 1) * X.cols);

/** Deterministic small pseudo-random matrix (values in [-scale, scale]) from the counter RNG. */
function randMat(rows: number, cols: number, seed: number, scale = 1): Mat {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (2 * uniform01(seed, 7, i) - 1) * scale;
  return { rows, cols, data };
}

const vecArb = (min = 1, max = 64) =>
  fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: min, maxLength: max })
    .map((a) => Float64Array.from(a));

// ----------------------------------------------------------------------------------------------
// Post-transforms.

Deno.test("post identity: copy, ½‖q‖² energy, inputs untouched", () => {
  const z = F([3, -4, 0.5]);
  const out = identity.reference(z, { kind: "identity" }, 2);
  assert.deepEqual([...out], [3, -4, 0.5]);
  assert.notEqual(out, z, "returns a new vector");
  close(identity.energy(z, { kind: "identity" }, 1), (9 + 16 + 0.25) / 2, 1e-15, "energy");
  assert.equal(identity.transformsInputs, false);
});

Deno.test("post l2: ‖output‖ = r, direction kept, z = 0 → 0, energy 0", () => {
  fc.assert(
    fc.property(vecArb(), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (z, r) => {
      const spec: Post = { kind: "l2", radius: r };
      const out = postPart(spec).reference(z, spec, 1);
      const n = norm2(z);
      if (n === 0) {
        assert.ok(out.every((v) => v === 0));
        return;
      }
      close(norm2(out), r, 1e-12 * r, "norm");
      const m = Math.max(...z.map(Math.abs));
      const y = z.map((v) => v / m);
      const ny = Math.sqrt(dotv(y, y));
      for (let i = 0; i < z.length; i++) close(out[i], r * (y[i] / ny), 1e-12 * r, "r z/‖z‖");
      assert.equal(postPart(spec).energy(out, spec, 1), 0);
    }),
  );
  const spec = { kind: "l2", radius: 2 } as const;
  assert.deepEqual([...l2.reference(F([0, 0, 0]), spec, 1)], [0, 0, 0]);
  closeVec(l2.reference(F([3, 4]), spec, 1), [1.2, 1.6], 1e-15, "l2([3,4])");
  // No overflow for huge entries (the norm is scaled).
  closeVec(l2.reference(F([3e200, 4e200]), { kind: "l2", radius: 1 }, 1), [0.6, 0.8], 1e-15, "big");
  assert.equal(l2.transformsInputs, true);
});

Deno.test("post layernorm: mean 0, ‖q‖² = D·var/(var + eps), matches the formula", () => {
  fc.assert(
    fc.property(vecArb(1, 64), fc.constantFrom(1e-5, 1e-3, 0.5), (z, eps) => {
      const spec: Post = { kind: "layernorm", eps };
      const out = layernorm.reference(z, spec, 1);
      const D = z.length;
      const mean = z.reduce((s, v) => s + v, 0) / D;
      const v = z.reduce((s, x) => s + (x - mean) ** 2, 0) / D;
      const scale = 1 / Math.sqrt(v + eps);
      close(out.reduce((s, x) => s + x, 0) / D, 0, 1e-12 * (1 + Math.sqrt(D)), "mean");
      close(dotv(out, out), (D * v) / (v + eps), 1e-10 * D, "‖q‖²");
      for (let i = 0; i < D; i++) close(out[i], (z[i] - mean) * scale, 1e-10, "formula");
      // Ψ(q) = −sqrt(D·eps·(D − ‖q‖²)): the conjugate of the map's potential (see layernorm.ts).
      const sq = out.reduce((t, v) => t + v * v, 0);
      assert.ok(
        Math.abs(layernorm.energy(out, spec, 1) + Math.sqrt(D * spec.eps * Math.max(D - sq, 0))) <
          1e-12,
      );
    }),
  );
  // Hand: [1, 2, 3] → mean 2, var 2/3 → (z − 2)/sqrt(2/3 + eps).
  const s = Math.sqrt(2 / 3 + 1e-5);
  closeVec(
    layernorm.reference(F([1, 2, 3]), { kind: "layernorm", eps: 1e-5 }, 1),
    [
      -1 / s,
      0,
      1 / s,
    ],
    1e-15,
    "hand",
  );
  assert.equal(layernorm.transformsInputs, true);
});

Deno.test("post tanh: tanh(βz), energy is the conjugate pair of β⁻¹Σ log(2cosh βz)", () => {
  fc.assert(
    fc.property(vecArb(1, 32), fc.constantFrom(0.1, 1, 3.5), (z0, beta) => {
      const z = z0.map((v) => v / 50); // keep tanh away from ±1 so the energy is well resolved
      const spec: Post = { kind: "tanh" };
      const q = tanh.reference(z, spec, beta);
      for (let i = 0; i < z.length; i++) assert.equal(q[i], Math.tanh(beta * z[i]));
      // Fenchel equality at q = ∇Ψ*(z): Ψ(q) + Ψ*(z) = ⟨q, z⟩, Ψ*(z) = β⁻¹ Σ log(2 cosh βz).
      let conj = 0;
      for (const v of z) conj += Math.log(2 * Math.cosh(beta * v));
      conj /= beta;
      close(tanh.energy(q, spec, beta) + conj, dotv(q, z), 1e-9 * (1 + z.length), "Fenchel");
    }),
  );
  // Hand values: q = 0 → β⁻¹·D·(½ ln ½ + ½ ln ½) = −D ln 2/β; q = ±1 → 0 (0 ln 0 = 0).
  close(tanh.energy(F([0, 0, 0]), { kind: "tanh" }, 2), (-3 * Math.log(2)) / 2, 1e-15, "q=0");
  assert.equal(tanh.energy(F([1, -1]), { kind: "tanh" }, 1), 0);
  assert.equal(tanh.energy(F([1.5]), { kind: "tanh" }, 1), Infinity);
  // ∇Ψ(q) = β⁻¹ artanh(q), by central differences.
  const beta = 0.7;
  for (const q of [-0.9, -0.3, 0.2, 0.8]) {
    const h = 1e-6;
    const g = (tanh.energy(F([q + h]), { kind: "tanh" }, beta) -
      tanh.energy(F([q - h]), { kind: "tanh" }, beta)) / (2 * h);
    close(g, Math.atanh(q) / beta, 1e-7, "∇Ψ");
  }
  assert.equal(tanh.transformsInputs, false);
});

// ----------------------------------------------------------------------------------------------
// Similarities.

const matArb = fc.integer({ min: 1, max: 12 }).chain((D) =>
  fc.tuple(
    fc.array(
      fc.array(fc.double({ min: -10, max: 10, noNaN: true }), {
        minLength: D,
        maxLength: D,
      }),
      { minLength: 1, maxLength: 10 },
    ),
    fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: D, maxLength: D }),
  )
);

Deno.test("similarities: dot, cosine, euclidean, manhattan vs direct formulas", () => {
  fc.assert(
    fc.property(matArb, ([rows, qa]) => {
      // (Values below 1e-50 are flushed to 0: the direct formulas here would underflow.)
      const flush = (v: number) => (Math.abs(v) < 1e-50 ? 0 : v);
      const X = mat(rows.map((r) => r.map(flush)));
      const q = Float64Array.from(qa, flush);
      const out = new Float64Array(X.rows);
      const spec = (kind: Similarity["kind"]) => ({ kind }) as Similarity;
      const qq = dotv(q, q);
      for (let i = 0; i < X.rows; i++) {
        const x = row(X, i);
        const xx = dotv(x, x);
        const tol = 1e-12 * (1 + xx + qq);
        dot.reference(X, q, { kind: "dot" }, out);
        close(out[i], dotv(x, q), tol, "dot");
        cosine.reference(X, q, { kind: "cosine" }, out);
        const want = xx === 0 || qq === 0 ? 0 : dotv(x, q) / (Math.sqrt(xx) * Math.sqrt(qq));
        close(out[i], want, 1e-12, "cosine");
        assert.ok(Math.abs(out[i]) <= 1 + 1e-12);
        euclidean.reference(X, q, { kind: "euclidean" }, out);
        let d2 = 0;
        for (let j = 0; j < q.length; j++) d2 += (x[j] - q[j]) ** 2;
        close(out[i], -d2 / 2, tol, "euclidean");
        // −½‖x − q‖² = xᵀq − ½‖x‖² − ½‖q‖² (MATH.md §0).
        close(out[i], dotv(x, q) - xx / 2 - qq / 2, tol, "euclidean = dot + biases");
        manhattan.reference(X, q, { kind: "manhattan" }, out);
        let d1 = 0;
        for (let j = 0; j < q.length; j++) d1 += Math.abs(x[j] - q[j]);
        close(out[i], -d1, 1e-12 * (1 + d1), "manhattan");
        similarityPart(spec("dot")).reference(X, q, spec("dot"), out);
        close(out[i], dotv(x, q), tol, "registry dot");
      }
    }),
  );
});

Deno.test("similarities: hand values and zero vectors", () => {
  const X = mat([[1, 0], [0, 0], [3, 4]]);
  const q = F([3, 4]);
  const out = new Float64Array(3);
  dot.reference(X, q, { kind: "dot" }, out);
  assert.deepEqual([...out], [3, 0, 25]);
  cosine.reference(X, q, { kind: "cosine" }, out);
  closeVec(out, [0.6, 0, 1], 1e-15, "cosine (zero memory → 0)");
  cosine.reference(X, F([0, 0]), { kind: "cosine" }, out);
  assert.deepEqual([...out], [0, 0, 0], "zero query → 0");
  euclidean.reference(X, q, { kind: "euclidean" }, out);
  assert.deepEqual([...out], [-(4 + 16) / 2, -25 / 2, -0]);
  manhattan.reference(X, q, { kind: "manhattan" }, out);
  assert.deepEqual([...out], [-6, -7, -0]);
});

// ----------------------------------------------------------------------------------------------
// Masks.

/** The reference kept set for top-k: sort (score desc, index asc) over finite entries. */
function naiveTopk(s: Float64Array, k: number): Set<number> {
  const idx = [...s.keys()].filter((i) => s[i] !== -Infinity);
  idx.sort((a, b) => (s[b] - s[a]) || (a - b));
  return new Set(idx.slice(0, k));
}

Deno.test("mask topk: keeps exactly k, the largest, lowest index among ties", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 60 }), // many ties
      fc.integer({ min: 1, max: 70 }),
      fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
      (ints, k, pre) => {
        const s = Float64Array.from(ints, (v, i) => (pre[i] && i % 3 === 0 ? -Infinity : v));
        const finite = s.filter((v) => v !== -Infinity).length;
        const out = Float64Array.from(s);
        topk.reference(out, { kind: "topk", k }, 0);
        const kept = [...out.keys()].filter((i) => out[i] !== -Infinity);
        assert.equal(kept.length, Math.min(k, finite), "count");
        assert.deepEqual(new Set(kept), naiveTopk(s, k), "kept set");
        for (const i of kept) assert.equal(out[i], s[i], "kept scores unchanged");
      },
    ),
  );
  // All tied: the first k indices.
  const s = new Float64Array(6).fill(2);
  topk.reference(s, { kind: "topk", k: 3 }, 5);
  assert.deepEqual([...s], [2, 2, 2, -Infinity, -Infinity, -Infinity]);
  const t = F([0.5, 3, 3, -1, 3]);
  topk.reference(t, { kind: "topk", k: 2 }, 0);
  assert.deepEqual([...t], [-Infinity, 3, 3, -Infinity, -Infinity]);
});

Deno.test("mask random: reproducible, ≈ keep fraction (5σ), keep = 1 keeps all, never empty", () => {
  const spec = { kind: "random", keep: 0.3, seed: 11 } as const;
  const N = 200;
  const B = 500;
  let kept = 0;
  for (let b = 0; b < B; b++) {
    const s = new Float64Array(N).fill(1);
    random.reference(s, spec, b);
    const again = new Float64Array(N).fill(1);
    random.reference(again, spec, b);
    assert.deepEqual([...s], [...again], "same (seed, query) → same mask");
    for (let i = 0; i < N; i++) {
      if (s[i] !== -Infinity) {
        kept++;
        assert.ok(hash3(11, b, i) < 0.3 * 2 ** 32, "kept iff hash < keep·2^32");
      } else assert.ok(hash3(11, b, i) >= 0.3 * 2 ** 32);
    }
  }
  const n = N * B;
  const sigma = Math.sqrt((0.3 * 0.7) / n);
  assert.ok(Math.abs(kept / n - 0.3) < 5 * sigma, `kept fraction ${kept / n}`);
  // Different queries see different subsets; a different seed too.
  const m = (seed: number, b: number) => {
    const s = new Float64Array(64).fill(0);
    random.reference(s, { kind: "random", keep: 0.5, seed }, b);
    return s.map((v) => (v === -Infinity ? 0 : 1)).join("");
  };
  assert.notEqual(m(3, 0), m(3, 1));
  assert.notEqual(m(3, 0), m(4, 0));
  // keep = 1 keeps everything.
  for (let b = 0; b < 20; b++) {
    const s = new Float64Array(50).fill(0.25);
    random.reference(s, { kind: "random", keep: 1, seed: 0 }, b);
    assert.ok(s.every((v) => v === 0.25));
  }
  // A tiny keep would keep nothing: the memory with the smallest hash is kept instead.
  for (let b = 0; b < 20; b++) {
    const s = new Float64Array(30).fill(0);
    random.reference(s, { kind: "random", keep: 1e-9, seed: 5 }, b);
    const left = [...s.keys()].filter((i) => s[i] !== -Infinity);
    assert.equal(left.length, 1, "exactly one memory left");
    let best = 0;
    for (let i = 1; i < 30; i++) if (hash3(5, b, i) < hash3(5, b, best)) best = i;
    assert.equal(left[0], best, "the smallest hash");
  }
});

// ----------------------------------------------------------------------------------------------
// RNG.

Deno.test("rng: known answers (pinned; the WGSL copy must produce the same)", () => {
  // Computed with this implementation and cross-checked with an independent Python version
  // (masking arithmetic with & 0xffffffff), and with RNG_WGSL on a WebGPU adapter.
  assert.equal(lowbias32(1), 1753845952);
  assert.equal(lowbias32(0x12345678), 4125564054);
  assert.equal(hash3(0, 0, 0), 2488251732);
  assert.equal(hash3(1, 2, 3), 928740772);
  assert.equal(hash3(42, 0, 7), 348356525);
  assert.equal(hash3(0xffffffff, 0xffffffff, 0xffffffff), 1004142908);
  assert.equal(hash3(7, 1000, 123456), 2068026426);
  assert.equal(uniform01(1, 2, 3), 0.21623927354812622);
  assert.ok(RNG_WGSL.includes("fn hash3(seed: u32, a: u32, b: u32) -> u32"));
  assert.ok(RNG_WGSL.includes("0x7feb352du") && RNG_WGSL.includes("0x846ca68bu"));
  assert.ok(RNG_WGSL.includes("0x9e3779b9u"));
});

Deno.test("rng: hash3 is u32 and sensitive to every counter; uniform01 in [0, 1)", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      (s, a, b) => {
        const h = hash3(s, a, b);
        assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
        // Counters are taken modulo 2^32.
        assert.equal(hash3(s + 2 ** 32, a, b), h);
        // Each stage is a bijection: changing only b (or only a, for a fixed seed) changes h.
        assert.notEqual(hash3(s, a, (b + 1) >>> 0), h);
        assert.notEqual(hash3(s, (a + 1) >>> 0, b), h);
        const u = uniform01(s, a, b);
        assert.ok(u >= 0 && u < 1);
        assert.equal(u * 2 ** 24, Math.floor(u * 2 ** 24), "on the 2^-24 grid");
      },
    ),
  );
});

Deno.test("rng: uniform and gaussian moments (loose, > 5σ bounds)", () => {
  const n = 100000;
  let su = 0;
  let su2 = 0;
  let sg = 0;
  let sg2 = 0;
  let sg4 = 0;
  for (let i = 0; i < n; i++) {
    const u = uniform01(9, i >>> 8, i);
    su += u;
    su2 += u * u;
    const g = gaussian(9, 1, i);
    assert.ok(Number.isFinite(g));
    sg += g;
    sg2 += g * g;
    sg4 += g ** 4;
  }
  const mu = su / n;
  close(mu, 0.5, 5 * Math.sqrt(1 / 12 / n), "uniform mean");
  close(su2 / n - mu * mu, 1 / 12, 0.003, "uniform variance");
  close(sg / n, 0, 5 / Math.sqrt(n), "gaussian mean");
  close(sg2 / n, 1, 5 * Math.sqrt(2 / n), "gaussian variance");
  close(sg4 / n, 3, 0.2, "gaussian 4th moment");
});

// ----------------------------------------------------------------------------------------------
// Random / linear features.

const feat = (map: Features["map"], count: number, seed = 0): Features => ({
  kind: "features",
  map,
  count,
  seed,
});

Deno.test("features: W is Gaussian-orthogonal (orthogonal rows within blocks, χ_D row norms)", () => {
  const D = 8;
  const spec = feat("positive", 20, 3); // blocks of 8, 8, 4 rows
  const W = featureMatrix(spec, D)!;
  assert.equal(W.rows, 20);
  assert.equal(W.cols, D);
  let maxCos = 0;
  let crossMax = 0;
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < i; j++) {
      const c = dotv(row(W, i), row(W, j)) /
        Math.sqrt(dotv(row(W, i), row(W, i)) * dotv(row(W, j), row(W, j)));
      if (Math.floor(i / D) === Math.floor(j / D)) maxCos = Math.max(maxCos, Math.abs(c));
      else crossMax = Math.max(crossMax, Math.abs(c));
    }
  }
  assert.ok(maxCos < 1e-12, `within-block |cos| = ${maxCos}`);
  assert.ok(crossMax > 1e-3, "blocks are independent draws, not orthogonal to each other");
  // Deterministic in the seed.
  assert.deepEqual([...featureMatrix(spec, D)!.data], [...W.data]);
  assert.notDeepEqual([...featureMatrix(feat("positive", 20, 4), D)!.data], [...W.data]);
  assert.equal(featureMatrix(feat("elu", 20), D), null);
  // Marginally N(0, I): entry variance 1, squared row norm mean D (χ²_D).
  const big = featureMatrix(feat("relu", 2000, 1), D)!;
  let s2 = 0;
  for (const v of big.data) s2 += v * v;
  close(s2 / big.data.length, 1, 0.06, "entry variance");
  close(s2 / big.rows, D, 0.6, "mean squared row norm");
});

Deno.test("features: positive map is an unbiased estimate of exp(β xᵀq); error shrinks with F", () => {
  const D = 4;
  const beta = 1.3;
  const x = F([0.3, -0.2, 0.1, 0.25]);
  const q = F([0.1, 0.35, -0.3, 0.2]);
  const exact = Math.exp(beta * dotv(x, q));
  const err = (count: number) => {
    let e = 0;
    const seeds = 16;
    for (let seed = 0; seed < seeds; seed++) {
      const spec = feat("positive", count, seed);
      const W = featureMatrix(spec, D);
      const k = dotv(phi(x, spec, W, beta, false), phi(q, spec, W, beta, false));
      e += Math.abs(k / exact - 1);
    }
    return e / seeds;
  };
  const e64 = err(64);
  const e4096 = err(4096);
  assert.ok(e4096 < e64 / 2, `relative error ${e64} (F=64) → ${e4096} (F=4096)`);
  assert.ok(e4096 < 0.01, `F=4096 relative error ${e4096}`);
  // phi for a query is φ(q) times one positive constant (the per-query max shift).
  const spec = feat("positive", 32, 2);
  const W = featureMatrix(spec, D);
  const a = phi(q, spec, W, beta, false);
  const b = phi(q, spec, W, beta, true);
  const r = b[0] / a[0];
  for (let i = 0; i < a.length; i++) close(b[i] / a[i], r, 1e-12 * r, "constant factor");
  assert.ok(Math.max(...b) === 1 / Math.sqrt(32), "the largest shifted feature is F^{-1/2}");
  // relu and elu maps, by their formulas.
  const relu = feat("relu", 16, 5);
  const Wr = featureMatrix(relu, D)!;
  const fr = phi(x, relu, Wr, beta, true);
  for (let i = 0; i < 16; i++) {
    close(fr[i], Math.max(Math.sqrt(beta) * dotv(row(Wr, i), x), 0) + 1e-3, 1e-15, "relu");
  }
  const fe = phi(F([-1, 0, 2, 0.5]), feat("elu", 99), null, 4, false);
  closeVec(fe, [Math.exp(-2), 1, 5, 2], 1e-15, "elu(√β x) + 1, F = D");
});

Deno.test("features: kernelStep = Σ φ(q)ᵀφ(x_i) x_i / (Σ φ(q)ᵀφ(x_i) + 1e-6), exactly", () => {
  // Memories and queries: random ones, and "far" ones (memories around 1.5·𝟙, queries around
  // −1.5·𝟙), whose kernel sums fall to ~1e-5, where the ε of the denominator matters: the
  // stabilized update must still equal the unstabilized formula (the ε is rescaled with φ).
  const near = (seed: number) => ({
    X: randMat(20, 6, seed, 0.5),
    q: (t: number) => Float64Array.from({ length: 6 }, (_, j) => 2 * uniform01(99, t, j) - 1),
  });
  const far = (seed: number) => {
    const X = randMat(20, 6, seed, 0.3);
    for (let i = 0; i < X.data.length; i++) X.data[i] += 1.5;
    return {
      X,
      q: (t: number) =>
        Float64Array.from({ length: 6 }, (_, j) => -1.5 - 0.3 * uniform01(98, t, j)),
    };
  };
  const cases: [Features, number, ReturnType<typeof near>][] = [
    [feat("positive", 128, 1), 0.7, near(17)],
    [feat("relu", 64, 2), 1.5, near(18)],
    [feat("elu", 1), 0.9, near(19)],
    [feat("positive", 64, 3), 1, far(20)],
    [feat("positive", 256, 4), 0.6, far(21)],
  ];
  let smallest = Infinity;
  for (const [spec, beta, { X, q: query }] of cases) {
    const state = buildKernelState(X, spec, beta);
    for (let t = 0; t < 5; t++) {
      const q = query(t);
      let den = 1e-6;
      const num = new Float64Array(6);
      const fq = phi(q, spec, state.W, beta, false);
      const w: number[] = [];
      for (let i = 0; i < X.rows; i++) {
        const k = dotv(phi(row(X, i), spec, state.W, beta, false), fq);
        w.push(k);
        den += k;
        for (let j = 0; j < 6; j++) num[j] += k * row(X, i)[j];
      }
      if (spec.map === "positive") smallest = Math.min(smallest, den);
      const want = num.map((v) => v / den);
      const got = kernelStep(state, q, spec, beta);
      const mag = Math.max(...want.map(Math.abs));
      closeVec(got, want, 1e-11 * mag, `${spec.map} β=${beta}`);
      // The implied weights reproduce the step.
      const ww = kernelWeights(state, X, q, spec, beta);
      closeVec(ww, w.map((k) => k / den), 1e-11 * Math.max(...ww), "kernelWeights");
      const viaW = new Float64Array(6);
      for (let i = 0; i < X.rows; i++) for (let j = 0; j < 6; j++) viaW[j] += ww[i] * row(X, i)[j];
      closeVec(viaW, got, 1e-11 * mag, "Σ w_i x_i");
    }
  }
  // The far cases really are in the regime where ignoring the ε's rescaling would be caught.
  assert.ok(smallest < 1e-3, `smallest kernel sum ${smallest}`);
  assert.throws(
    () => featuresPart.reference(mat([[1]]), F([1]), feat("positive", 4), new Float64Array(1)),
    /kernelStep/,
  );
});

// ----------------------------------------------------------------------------------------------
// Registry.

Deno.test("registry: every IR kind maps to a part of that kind", () => {
  for (const [k, p] of Object.entries(entropies)) assert.equal(p.kind, k);
  for (const [k, p] of Object.entries(posts)) assert.equal(p.kind, k);
  for (const [k, p] of Object.entries(similarities)) assert.equal(p.kind, k);
  for (const [k, p] of Object.entries(masks)) assert.equal(p.kind, k);
  assert.deepEqual(Object.keys(entropies).sort(), [
    "ksubsets",
    "normmax",
    "shannon",
    "softmax1",
    "sparsemax",
    "tsallis",
  ]);
  assert.deepEqual(Object.keys(posts).sort(), ["identity", "l2", "layernorm", "tanh"]);
  assert.deepEqual(Object.keys(similarities).sort(), [
    "ahop",
    "cosine",
    "dot",
    "euclidean",
    "features",
    "js",
    "kernelized",
    "kl",
    "manhattan",
    "normalized_dot",
    "reciprocal_euclidean",
    "reciprocal_manhattan",
    "reverse_kl",
    "uhop",
  ]);
  assert.deepEqual(Object.keys(masks).sort(), ["none", "random", "topk"]);
  const s = F([2, 1, -2]);
  assert.deepEqual(
    [...entropyPart({ kind: "tsallis", alpha: 1.5 }).reference(s, { kind: "tsallis", alpha: 1.5 })],
    [...entmax15Sort(s)],
  );
  const none: Mask = { kind: "none" };
  const t = F([1, -Infinity, 3]);
  maskPart(none).reference(t, none, 0);
  assert.deepEqual([...t], [1, -Infinity, 3], "mask none is a no-op");
  assert.equal(similarityPart(feat("positive", 4)), featuresPart);
  assert.equal(typeof similarities.features.kernelStep, "function");
});

// `deno task bench:efficient`: the sparse and nonparametric families (issue: masks, random
// features, k-subsets) measured on the GPU path, in one run on one adapter:
//
//  1. cost against M, M = 2^10 .. 2^17 (or the largest the adapter's storage binding allows),
//     D = 64, B = 64, one step: dense softmax, top-k (K = 32), random mask (keep = 0.1) and
//     positive random features (F = 256). Time per retrieve call (median after a warm-up) and the
//     load time, with the growth exponent of each fitted by least squares on log time against
//     log M, over the whole range and over its upper half (where fixed costs no longer dominate).
//  2. the features approximation: states of features retrieval (GPU) against the exact softmax
//     retrieval (float64 reference) as F grows.
//  3. retrieval quality on real images: Fashion-MNIST, memories = M images (mean-centred,
//     unit-norm), queries = 100 of them with the bottom half zeroed; success = cosine between the
//     retrieved state and the original image > 0.9, at M = 100, 1000, 10000.
//
//   deno run -A bench/efficient.ts [--quick] [--max-log2 K] [--min-time S] [--beta B]
//                                  [--quality-beta B1,B2] [--out PATH]
//
// Results: tables on stdout, JSON in bench/results/efficient-<adapter>-<date>.json (or --out).
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { maskBottomHalf } from "./lib/frames.ts";
import {
  dateStamp,
  gaussianRng,
  relativeError,
  rowCosines,
  slug,
  timeCalls,
} from "./lib/common.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

// ---------------------------------------------------------------------------------------------
// Pure helpers (tested in tests/efficient_bench_test.ts).

/** Least-squares slope and intercept of log(y) against log(x): y ~ c x^slope. */
export function fitExponent(xs: number[], ys: number[]): { exponent: number; r2: number } {
  const lx = xs.map(Math.log), ly = ys.map(Math.log);
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n, my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  const exponent = sxy / sxx;
  return { exponent, r2: syy > 0 ? (sxy * sxy) / (sxx * syy) : 1 };
}

// ---------------------------------------------------------------------------------------------

const VARIANTS = {
  dense: "",
  "topk(K=32)": "mask topk(k = 32)",
  "random(keep=0.1)": "mask random(keep = 0.1, seed = 1)",
  "features(F=256)": "similarity features(map = positive, count = 256, seed = 1)",
} as const;
type Variant = keyof typeof VARIANTS;

function model(name: string, line: string, beta: number): Model {
  const { models, diagnostics } = checkText(
    `model ${name} {\n  ${line}\n  beta ${beta}\n}\n`,
    "bench/efficient.ts",
  );
  if (diagnostics.length) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return models[0];
}

/** Unit-norm random memories; query b is memory (7b mod M) plus noise of norm about 0.3. */
function syntheticData(M: number, D: number, B: number, seed: number): { X: Mat; Q: Mat } {
  const g = gaussianRng(seed);
  const X = { rows: M, cols: D, data: new Float64Array(M * D) };
  for (let i = 0; i < M; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) n += (X.data[i * D + d] = g()) ** 2;
    n = Math.sqrt(n);
    for (let d = 0; d < D; d++) X.data[i * D + d] /= n;
  }
  const Q = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    const j = (7 * b) % M;
    for (let d = 0; d < D; d++) {
      Q.data[b * D + d] = X.data[j * D + d] + (0.3 / Math.sqrt(D)) * g();
    }
  }
  return { X, Q };
}

const log = (s: string) => console.error(s);

interface Options {
  quick: boolean;
  maxLog2: number;
  minTime: number;
  beta: number;
  qualityBetas: number[];
  out?: string;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    quick: false,
    maxLog2: 17,
    minTime: 1,
    beta: 1,
    qualityBetas: [16, 64],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const num = () => {
      const v = Number(args[++i]);
      if (!Number.isFinite(v) || v <= 0) {
        console.error(`bench: ${a} takes a positive number, got ${args[i]}`);
        Deno.exit(2);
      }
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--max-log2") o.maxLog2 = num();
    else if (a === "--min-time") o.minTime = num();
    else if (a === "--beta") o.beta = num();
    else if (a === "--quality-beta") {
      o.qualityBetas = (args[++i] ?? "").split(",").map(Number);
      if (!o.qualityBetas.every((b) => Number.isFinite(b) && b > 0)) {
        console.error(`bench: --quality-beta takes positive numbers, comma-separated`);
        Deno.exit(2);
      }
    } else if (a === "--out") o.out = args[++i];
    else {
      console.error(
        `bench: unknown option ${a}\nusage: deno run -A bench/efficient.ts [--quick] [--max-log2 K] [--min-time S] [--beta B] [--quality-beta B1,B2] [--out PATH]`,
      );
      Deno.exit(2);
    }
  }
  if (o.quick) o.maxLog2 = Math.min(o.maxLog2, 12);
  return o;
}

// 1. Cost against M.
async function costAgainstM(ctx: GpuContext, o: Options) {
  const D = 64, B = 64;
  const rows: {
    variant: Variant;
    M: number;
    retrieveMs: number;
    calls: number;
    loadMs: number;
    deviceBytes: number;
    /** max |gpu - ref| / max |ref| over the states of the first 4 queries. */
    relErr: number;
  }[] = [];
  const maxRows = Math.floor(ctx.limits.maxStorageBufferBindingSize / (D * 4));
  const sizes: number[] = [];
  for (let k = 10; k <= o.maxLog2; k++) if (2 ** k <= maxRows) sizes.push(2 ** k);
  for (const M of sizes) {
    const { X, Q } = syntheticData(M, D, B, M);
    for (const [variant, line] of Object.entries(VARIANTS) as [Variant, string][]) {
      const m = model("cost", line, o.beta);
      // The first load at a shape may compile its pipeline: time a second, warm load (host
      // preparation, upload and the GPU's prepare pass, which is what `load` costs in use).
      (await load(m, X, ctx)).destroy();
      const t0 = performance.now();
      const r = await load(m, X, ctx);
      const loadMs = performance.now() - t0;
      try {
        const t = (await timeCalls(() => r.retrieve(Q), o.minTime)).timing;
        // Is the answer right? The first 4 queries against the float64 reference.
        const few = { rows: 4, cols: D, data: Q.data.slice(0, 4 * D) };
        const gpu = (await r.retrieve(few)).states;
        const relErr = relativeError(gpu, retrieveReference(m, X, few).states.data);
        rows.push({
          variant,
          M,
          retrieveMs: t.ms,
          calls: t.n,
          loadMs,
          deviceBytes: r.deviceBytes,
          relErr,
        });
        log(
          `cost: ${variant} M=${M}: ${t.ms.toFixed(1)} ms per call, load ${
            loadMs.toFixed(0)
          } ms, error ${relErr.toExponential(1)}`,
        );
      } finally {
        r.destroy();
      }
    }
  }
  const upper = sizes.slice(Math.floor(sizes.length / 2));
  const exponents = (Object.keys(VARIANTS) as Variant[]).map((variant) => {
    const mine = rows.filter((r) => r.variant === variant);
    const top = mine.filter((r) => upper.includes(r.M));
    return {
      variant,
      all: fitExponent(mine.map((r) => r.M), mine.map((r) => r.retrieveMs)),
      upper: fitExponent(top.map((r) => r.M), top.map((r) => r.retrieveMs)),
      load: fitExponent(mine.map((r) => r.M), mine.map((r) => r.loadMs)),
    };
  });
  return { D, B, sizes, upperRange: [upper[0], upper[upper.length - 1]], rows, exponents };
}

// 2. Features against exact softmax as F grows.
async function featuresError(ctx: GpuContext, o: Options) {
  const M = 2048, D = 64, B = 64;
  const { X, Q } = syntheticData(M, D, B, 11);
  const exact = retrieveReference(model("exact", "", o.beta), X, Q);
  const out: { F: number; meanRelErr: number; maxRelErr: number; meanCos: number }[] = [];
  for (const F of o.quick ? [16, 256] : [16, 64, 256, 1024, 4096]) {
    const m = model("feat", `similarity features(map = positive, count = ${F}, seed = 3)`, o.beta);
    const r = await load(m, X, ctx);
    try {
      const got = (await r.retrieve(Q)).states;
      const errs: number[] = [];
      for (let b = 0; b < B; b++) {
        let e = 0, n = 0;
        for (let d = 0; d < D; d++) {
          e += (got[b * D + d] - exact.states.data[b * D + d]) ** 2;
          n += exact.states.data[b * D + d] ** 2;
        }
        errs.push(Math.sqrt(e / n));
      }
      const cos = rowCosines(got, exact.states.data, B, D);
      out.push({
        F,
        meanRelErr: errs.reduce((a, b) => a + b, 0) / B,
        maxRelErr: Math.max(...errs),
        meanCos: cos.reduce((a, b) => a + b, 0) / B,
      });
      log(
        `features error: F=${F}: mean relative error ${out[out.length - 1].meanRelErr.toFixed(4)}`,
      );
    } finally {
      r.destroy();
    }
  }
  return { M, D, B, beta: o.beta, rows: out };
}

// 3. Quality on Fashion-MNIST.
async function quality(ctx: GpuContext, o: Options) {
  const sizes = o.quick ? [100, 1000] : [100, 1000, 10000];
  const data = await loadFashionMnist({ split: "train", limit: Math.max(...sizes) });
  const D = data.side * data.side;
  // Mean-centred (over the images used), unit-norm rows: dot scores are then cosines.
  const mean = new Float64Array(D);
  for (let i = 0; i < data.count; i++) {
    for (let d = 0; d < D; d++) mean[d] += data.images[i * D + d];
  }
  for (let d = 0; d < D; d++) mean[d] /= data.count;
  const all = new Float64Array(data.count * D);
  for (let i = 0; i < data.count; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) n += (all[i * D + d] = data.images[i * D + d] - mean[d]) ** 2;
    n = Math.sqrt(n) || 1;
    for (let d = 0; d < D; d++) all[i * D + d] /= n;
  }
  const B = 100;
  const rows: {
    variant: Variant;
    beta: number;
    M: number;
    /** Of the float64 reference (the model's quality, whatever the adapter). */
    success: number;
    meanCos: number;
    /** Of the GPU run on this adapter. */
    gpuSuccess: number;
    /** max |gpu - ref| / max |ref| over all query states. */
    gpuRelErr: number;
  }[] = [];
  for (const beta of o.qualityBetas) {
    for (const M of sizes) {
      const X = { rows: M, cols: D, data: all.slice(0, M * D) };
      // Queries: B memories spread over the M, bottom half zeroed (after centring).
      const picks = Array.from({ length: B }, (_, b) => Math.floor((b * M) / B));
      const originals = new Float64Array(B * D);
      picks.forEach((i, b) => originals.set(X.data.subarray(i * D, (i + 1) * D), b * D));
      const Q = { rows: B, cols: D, data: maskBottomHalf(originals, B, data.side, 0.5) };
      for (const [variant, line] of Object.entries(VARIANTS) as [Variant, string][]) {
        const m = model("quality", line, beta);
        const r = await load(m, X, ctx);
        try {
          const got = (await r.retrieve(Q)).states;
          const ref = retrieveReference(m, X, Q).states.data;
          const cos = rowCosines(ref, originals, B, D);
          const gpuCos = rowCosines(got, originals, B, D);
          rows.push({
            variant,
            beta,
            M,
            success: cos.filter((c) => c > 0.9).length / B,
            meanCos: cos.reduce((a, b) => a + b, 0) / B,
            gpuSuccess: gpuCos.filter((c) => c > 0.9).length / B,
            gpuRelErr: relativeError(got, ref),
          });
          const last = rows[rows.length - 1];
          log(
            `quality: ${variant} beta=${beta} M=${M}: success ${last.success} (GPU ${last.gpuSuccess}, error ${
              last.gpuRelErr.toExponential(1)
            })`,
          );
        } finally {
          r.destroy();
        }
      }
    }
  }
  return {
    dataset: "Fashion-MNIST train (first M images), mean-centred and unit-norm",
    queries:
      `${B} of the memories, bottom half zeroed; success = cosine(retrieved, original) > 0.9`,
    note:
      "success and cosine are of the float64 reference; gpuSuccess and gpuRelErr are of this adapter's run",
    betas: o.qualityBetas,
    steps: 1,
    rows,
  };
}

async function main() {
  const o = parseArgs(Deno.args);
  const ctx = await acquireDevice();
  log(`adapter: ${ctx.info}`);
  const started = performance.now();
  const cost = await costAgainstM(ctx, o);
  const error = await featuresError(ctx, o);
  let qual: Awaited<ReturnType<typeof quality>> | { error: string };
  try {
    qual = await quality(ctx, o);
  } catch (e) {
    qual = { error: (e as Error).message };
    log(`quality section skipped: ${(e as Error).message}`);
  }

  const variants = Object.keys(VARIANTS) as Variant[];
  console.log(
    `\n## Cost against M (D = ${cost.D}, B = ${cost.B}, one step; ms per retrieve call, median)`,
  );
  console.log(`adapter: ${ctx.info}\n`);
  console.log(`${"M".padStart(8)} ${variants.map((v) => v.padStart(18)).join("")}`);
  for (const M of cost.sizes) {
    const cells = variants.map((v) => {
      const r = cost.rows.find((x) => x.variant === v && x.M === M)!;
      return `${r.relErr > 1e-3 ? "*" : ""}${r.retrieveMs.toFixed(1)}`.padStart(18);
    });
    console.log(`${String(M).padStart(8)} ${cells.join("")}`);
  }
  if (cost.rows.some((r) => r.relErr > 1e-3)) {
    console.log(
      `* the states of this cell differ from the float64 reference by more than 1e-3 (relative) on this adapter`,
    );
  }
  console.log(`\ngrowth exponent of time per call in M (least squares on log-log):`);
  for (const e of cost.exponents) {
    console.log(
      `  ${e.variant.padEnd(18)} all M: ${e.all.exponent.toFixed(3)} (r² ${
        e.all.r2.toFixed(3)
      })   M >= ${cost.upperRange[0]}: ${e.upper.exponent.toFixed(3)}   load: ${
        e.load.exponent.toFixed(3)
      }`,
    );
  }
  console.log(
    `\n## Features retrieval vs exact softmax (M = ${error.M}, D = ${error.D}, beta = ${error.beta})`,
  );
  for (const r of error.rows) {
    console.log(
      `  F = ${String(r.F).padStart(5)}: mean relative error ${r.meanRelErr.toFixed(4)}, max ${
        r.maxRelErr.toFixed(4)
      }, mean cosine ${r.meanCos.toFixed(4)}`,
    );
  }
  if ("rows" in qual) {
    console.log(`\n## Retrieval quality on Fashion-MNIST (one step)`);
    console.log(`${qual.queries}; ${qual.note}`);
    console.log(
      `*N%: this adapter's GPU run disagreed with the reference (> 1e-3); N% is its success\n`,
    );
    console.log(
      `${"beta".padStart(5)} ${"M".padStart(6)} ${variants.map((v) => v.padStart(18)).join("")}`,
    );
    for (const beta of qual.betas) {
      for (const M of [...new Set(qual.rows.map((r) => r.M))]) {
        const cells = variants.map((v) => {
          const r = qual.rows.find((x) => x.variant === v && x.M === M && x.beta === beta)!;
          const flag = r.gpuRelErr > 1e-3 ? `*${(100 * r.gpuSuccess).toFixed(0)}%` : "";
          return `${(100 * r.success).toFixed(0)}% (cos ${r.meanCos.toFixed(2)})${flag}`.padStart(
            22,
          );
        });
        console.log(`${String(beta).padStart(5)} ${String(M).padStart(6)} ${cells.join("")}`);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const report = {
    command: `deno run -A bench/efficient.ts${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
    date: new Date().toISOString(),
    adapter: ctx.info,
    seconds,
    cost,
    featuresError: error,
    quality: qual,
  };
  const out = o.out ??
    `bench/results/efficient-${slug(ctx.info)}-${dateStamp(new Date())}${
      o.quick ? "-quick" : ""
    }.json`;
  await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true }).catch(() => {});
  await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nwrote ${out} (${seconds.toFixed(0)} s)`);
}

if (import.meta.main) await main();

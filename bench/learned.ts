// `deno task experiment:learned`: similarities learned from the memories (issue 12) against the
// fixed ones, on Fashion-MNIST (Debian's dataset-fashion-mnist), through hopc's GPU runtime.
//
//   deno run -A bench/learned.ts [--M 10,20,30,50,100,200,500] [--seeds 3] [--claim-M 100]
//                                [--meta-M 10000] [--meta-B 500] [--parts 1,2,3]
//                                [--methods dot,manhattan,...] [--out PATH] [--svg PATH]
//
// Part 1, U-Hop's capacity protocol (MATH.md 6.2, MAGICS-LAB/UHop memory_retrieval_max_loss.py):
// M memories drawn at random (seeded) from the training images with pixels in [0, 1]; each is a
// query once, corrupted as torch.dropout(x, 0.5, train=True) does (each pixel zeroed with
// probability 0.5, the survivors doubled); one retrieval step at beta 1; the error of a query is
// sum_pixels (clamp(x, 0, 1) - clamp(out, 0, 1))^2, averaged over the M queries, and the median
// over the seeds is reported. The distance baselines score -distance (the authors' code feeds the
// distance itself to softmax, which favours the farthest memory: MATH.md 6.2).
//
// Part 2, A-Hop's claim (MATH.md 7.6, from the paper's summaries): with queries corrupted by
// masking (half the pixels zeroed), noise (N(0, 0.3^2)) or a bias (+0.3), which memory does each
// method weigh most? Accuracy = share of queries whose largest weight is on their own memory.
// A-Hop (`similarity ahop`) fits on context samples of the same corruption drawn with another seed.
// Every method runs through hopc's GPU runtime (tests/*_test.ts check each against float64).
//
// Learned methods print the smallest distance between two unit-normalized features of the
// memories before and after their fit (A-Hop has no feature map).
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { linePlot, panels, type Series } from "./lib/svg.ts";
import { dateStamp } from "./lib/common.ts";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";
import { uniform01 } from "../src/parts/rng.ts";
import { corruptEntry, type Corruption } from "../src/fit/ahop.ts";

/** U-Hop's capacity queries: torch.dropout(x, 0.5, train=True). */
const DROPOUT: Corruption = { kind: "dropout", level: 0.5 };

/** The similarities run as .hop models (softmax, beta 1, one step); A-Hop runs beside them. */
export const FIXED: Record<string, string> = {
  dot: "similarity dot",
  manhattan: "similarity manhattan",
  euclidean: "similarity euclidean",
  // U-Hop's two scripts (MATH.md 6.1) and the kernelized Hopfield model's defaults (7.9).
  "uhop-max": "similarity uhop(loss = max)",
  "uhop-mean": "similarity uhop(loss = mean, lr = 1, schedule = inverse_sqrt, fraction = 1)",
  kernelized: "similarity kernelized",
  // The authors' Adam lr 0.1 moves every weight by about 0.1 per step, far more than the
  // Kaiming-normal entries (sqrt(2/D) = 0.05 at D = 784): with the few steps of small M it
  // collapses the features. The same model with a smaller step, trained longer:
  "kernelized-slow": "similarity kernelized(lr = 0.001, epochs = 20)",
};

export interface MethodResult {
  /** B x D retrieved states. */
  states: Float64Array;
  /** For each query, the memory with the largest weight. */
  top: number[];
  /** Smallest pairwise distance of the normalized features before / after a fit, if any. */
  separation?: { before: number; after: number };
  /** Per query, the number of weights above 0.01 (when asked for). */
  supports?: number[];
}

/** U-Hop's error: sum over pixels of (clamp(x) - clamp(out))^2, for each query. */
export function clampedErrors(X: Float64Array, out: ArrayLike<number>, B: number, D: number) {
  const c = (v: number) => Math.min(1, Math.max(0, v));
  return Array.from({ length: B }, (_, b) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += (c(X[b * D + d]) - c(out[b * D + d])) ** 2;
    return s;
  });
}

function model(fields: string): Model {
  const { models, diagnostics } = checkText(`model m { ${fields} }`, "bench/learned.ts");
  if (!models.length) throw new Error(`${fields}: ${diagnostics.map((d) => d.message).join("; ")}`);
  return models[0];
}

async function runHop(
  ctx: GpuContext,
  fields: string,
  X: Mat,
  Q: Mat,
  supports = false,
): Promise<MethodResult> {
  const r = await load(model(fields), X, ctx);
  try {
    const out = await r.retrieve(Q, { weights: true });
    const M = X.rows;
    const w = out.weights!;
    const top = Array.from({ length: Q.rows }, (_, b) => {
      let best = 0;
      for (let i = 1; i < M; i++) if (w[b * M + i] > w[b * M + best]) best = i;
      return best;
    });
    const separation = r.fit && "result" in r.fit ? r.fit.result.separation : undefined;
    // Weights above 0.01 per query (the metastable protocol's support size).
    const counts = supports
      ? Array.from({ length: Q.rows }, (_, b) => {
        let n = 0;
        for (let i = 0; i < M; i++) if (w[b * M + i] > 0.01) n++;
        return n;
      })
      : undefined;
    return { states: Float64Array.from(out.states), top, separation, supports: counts };
  } finally {
    r.destroy();
  }
}

/**
 * The model fields of a method; A-Hop (`similarity ahop`, MATH.md 7.6) fits on context samples of
 * the corruption the queries have (one per memory, drawn with its own seed), on the multi-scale
 * footprint, with the defaults otherwise (Adam, lr 0.1, 200 epochs).
 */
export function fieldsOf(method: string, c: Corruption, seed: number): string {
  if (method !== "ahop") return FIXED[method];
  return `similarity ahop(corrupt = ${c.kind}, level = ${c.level}, samples = 1, scales = geometric, seed = ${seed})`;
}

/** Seeded choice of M distinct training images. */
function draw(images: Float64Array, count: number, M: number, seed: number): Float64Array {
  const D = 784;
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(uniform01(seed, 0x1ea7, i) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out = new Float64Array(M * D);
  for (let m = 0; m < M; m++) out.set(images.subarray(order[m] * D, (order[m] + 1) * D), m * D);
  return out;
}

/** A corrupted copy of the rows of X (D columns), from the counter RNG. */
export function corrupt(X: Float64Array, D: number, c: Corruption, seed: number): Float64Array {
  return X.map((v, k) => corruptEntry(v, c, seed, Math.floor(k / D), k % D));
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

if (import.meta.main) {
  const Ms = arg("--M", "10,20,30,50,100,200,500").split(",").map(Number);
  const seeds = Number(arg("--seeds", "3"));
  const claimM = Number(arg("--claim-M", "100"));
  const methods = arg("--methods", [...Object.keys(FIXED), "ahop"].join(",")).split(",");
  const ctx = await acquireDevice();
  const { images, count } = await loadFashionMnist({ split: "train", limit: 10000 });
  const D = 784;
  const started = performance.now();

  // Part 1: U-Hop's protocol.
  const capacity: {
    method: string;
    M: number;
    error: number;
    errors: number[];
    separation?: { before: number; after: number }[];
  }[] = [];
  const parts = arg("--parts", "1,2,3").split(",").map(Number);
  for (const M of parts.includes(1) ? Ms : []) {
    const perMethod: Record<string, number[]> = {};
    const separations: Record<string, { before: number; after: number }[]> = {};
    for (let seed = 1; seed <= seeds; seed++) {
      const Xd = draw(images, count, M, seed);
      const X = { rows: M, cols: D, data: Xd };
      const Q = { rows: M, cols: D, data: corrupt(Xd, D, DROPOUT, 1000 + seed) };
      for (const method of methods) {
        const r = await runHop(ctx, fieldsOf(method, DROPOUT, 2000 + seed), X, Q);
        if (r.separation) (separations[method] ??= []).push(r.separation);
        const errs = clampedErrors(Xd, r.states, M, D);
        (perMethod[method] ??= []).push(errs.reduce((a, b) => a + b, 0) / M);
      }
    }
    for (const method of methods) {
      capacity.push({
        method,
        M,
        error: median(perMethod[method]),
        errors: perMethod[method],
        ...(separations[method] ? { separation: separations[method] } : {}),
      });
    }
    console.log(
      `M = ${M}: ` + methods.map((m) => `${m} ${median(perMethod[m]).toFixed(2)}`).join(", "),
    );
    for (const [m, seps] of Object.entries(separations)) {
      const f = (k: "before" | "after") => median(seps.map((x) => x[k])).toFixed(3);
      console.log(`  ${m}: smallest feature separation ${f("before")} -> ${f("after")} (median)`);
    }
  }

  // Part 2: A-Hop's claim.
  const variants: [string, Corruption][] = [
    ["masked 0.5", { kind: "mask", level: 0.5 }],
    ["noise 0.3", { kind: "noise", level: 0.3 }],
    ["bias +0.3", { kind: "bias", level: 0.3 }],
  ];
  const claim: { variant: string; method: string; accuracy: number; accuracies: number[] }[] = [];
  for (const [name, c] of parts.includes(2) ? variants : []) {
    const acc: Record<string, number[]> = {};
    for (let seed = 1; seed <= seeds; seed++) {
      const Xd = draw(images, count, claimM, 100 + seed);
      const X = { rows: claimM, cols: D, data: Xd };
      const Q = { rows: claimM, cols: D, data: corrupt(Xd, D, c, 3000 + seed) };
      for (const method of methods) {
        const r = await runHop(ctx, fieldsOf(method, c, 4000 + seed), X, Q);
        const right = r.top.filter((t, b) => t === b).length;
        (acc[method] ??= []).push(right / claimM);
      }
    }
    for (const method of methods) {
      claim.push({ variant: name, method, accuracy: median(acc[method]), accuracies: acc[method] });
    }
    console.log(
      `${name}: ` + methods.map((m) => `${m} ${median(acc[m]).toFixed(3)}`).join(", "),
    );
  }

  // Part 3: the kernelized model's metastable-state protocol (MATH.md 7.9; Optimal-Hopfield-Memory
  // MNIST_metastable.py): memories the first --meta-M training images, queries the first
  // --meta-B test images, 5 softmax steps at beta 0.1; the share of queries whose final weights
  // have exactly k entries above 0.01, k = 1..10, with the learned map (dim 200, one epoch of Adam
  // at lr 0.1 in batches of 16) and without it (dot).
  const metaM = Number(arg("--meta-M", "10000"));
  const metaB = Number(arg("--meta-B", "500"));
  const test = await loadFashionMnist({ split: "test", limit: metaB });
  const metaX = { rows: metaM, cols: D, data: images.slice(0, metaM * D) };
  const metaQ = { rows: metaB, cols: D, data: test.images.slice(0, metaB * D) };
  const metastable: {
    method: string;
    shares: number[];
    above10: number;
    /** How many distinct memories hold some query's largest final weight. */
    distinctTop: number;
  }[] = [];
  for (
    const [method, sim] of (parts.includes(3)
      ? [
        ["dot", "similarity dot"],
        ["kernelized", "similarity kernelized(dim = 200, epochs = 1, lr = 0.1, batch = 16)"],
      ]
      : [])
  ) {
    const r = await runHop(ctx, `${sim} beta 0.1 steps 5`, metaX, metaQ, true);
    const counts = r.supports!;
    const shares = Array.from(
      { length: 10 },
      (_, k) => counts.filter((c) => c === k + 1).length / metaB,
    );
    const distinctTop = new Set(r.top).size;
    metastable.push({
      method,
      shares,
      above10: counts.filter((c) => c > 10).length / metaB,
      distinctTop,
    });
    console.log(
      `metastable ${method}: k = 1..10: ${
        shares.map((v) => (100 * v).toFixed(1)).join(", ")
      } %; largest weights on ${distinctTop} distinct memories`,
    );
  }

  const seconds = (performance.now() - started) / 1000;
  const stamp = dateStamp(new Date());
  const out = arg("--out", `bench/results/learned-${stamp}.json`);
  const svg = arg("--svg", "bench/results/learned.svg");
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        adapter: ctx.info,
        protocol: {
          capacity: "U-Hop (MATH.md 6.2): [0,1] Fashion-MNIST, dropout 0.5 queries, 1 step, beta 1",
          claim: `A-Hop (MATH.md 7.6): M = ${claimM}, masked / noisy / biased queries, accuracy`,
          seeds,
        },
        capacity,
        claim,
        metastable: { M: metaM, B: metaB, beta: 0.1, steps: 5, rows: metastable },
        seconds,
      },
      null,
      2,
    ) + "\n",
  );
  if (parts.includes(1)) {
    const series: Series[] = methods.map((m) => ({
      label: m,
      x: Ms,
      y: Ms.map((M) => capacity.find((c) => c.method === m && c.M === M)!.error),
    }));
    await Deno.writeTextFile(
      svg,
      panels([
        linePlot({
          title: "U-Hop protocol on Fashion-MNIST: error against M",
          xLabel: "memories M",
          yLabel: "mean summed squared error",
          series,
          logX: true,
        }),
      ], 1),
    );
  }
  console.log(`wrote ${out}${parts.includes(1) ? ` and ${svg}` : ""} (${seconds.toFixed(0)} s)`);
}

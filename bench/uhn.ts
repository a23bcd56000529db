// `deno task experiment:uhn`: the Universal Hopfield Networks retrieval protocol (Millidge et al.
// 2022, BerenMillidge/Theory_Associative_Memory functions.py `PC_retrieve_store_continuous`;
// MATH.md 7.2) on Fashion-MNIST, through hopc's GPU runtime.
//
//   deno run -A bench/uhn.ts [--N 10,50,100,300,500] [--similarities dot,manhattan,...] [--check 8]
//                            [--out PATH] [--svg PATH]
//
// Protocol, as the authors' code runs it by default: the memories are the first N training images
// with pixels in [0, 1] (D = 784); every memory is a query once, corrupted by `halve_continuous_img`
// (rows int(28 * 0.5) = 14 .. 27 set to 0); one retrieval step; a query counts as correct when the
// squared error of the output to its own memory, sum_j (x_j - out_j)^2, is at most 60 (UHN's
// ERROR_THRESHOLD; 784 / D = 1 here). Each similarity runs with two separations:
//
//   softmax  entropy shannon. UHN divides the scores of a query by their sum and then applies
//            softmax(1000 s); hopc's beta is per model, so beta = 1000 / median_q |sum_i s_i(q)|
//            over the queries of this N (computed in float64 from the similarity's reference).
//   max      mask topk(k = 1): all the weight on the highest score (UHN's `separation_max`).
//
// Every cell runs all N queries on the GPU; the first --check queries (default 8) are also run by
// the float64 reference, and the largest state difference and the number of correct/incorrect
// verdicts that differ are reported. Output: a table on stdout (fraction correct per N), a JSON
// file under bench/results/ and an SVG figure.
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { linePlot, panels, type Series } from "./lib/svg.ts";
import { dateStamp, slug } from "./lib/common.ts";
import { checkText } from "../src/check.ts";
import type { Model, Similarity } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { similarityPart } from "../src/parts/registry.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";

/** UHN's ERROR_THRESHOLD on the summed squared error (for D = 784). */
export const ERROR_THRESHOLD = 60;
/** UHN's separation parameter: softmax(1000 s) on sum-normalized scores. */
export const SEP_PARAM = 1000;

export const DEFAULT_SIMILARITIES = [
  "dot",
  "manhattan",
  "euclidean",
  "reciprocal_manhattan",
  "reciprocal_euclidean",
  "normalized_dot",
  "kl",
  "reverse_kl",
  "js",
] as const;
export const SEPARATIONS = ["softmax", "max"] as const;
export type Separation = typeof SEPARATIONS[number];

// ---------------------------------------------------------------------------------------------
// The protocol's pieces (exported for tests/uhn_test.ts)

/** UHN's `halve_continuous_img` for a side x side image: rows int(side * 0.5) .. side-1 set to 0. */
export function halveImages(images: Float64Array, count: number, side: number): Float64Array {
  const out = images.slice(0, count * side * side);
  const cut = Math.floor(side * 0.5);
  for (let n = 0; n < count; n++) out.fill(0, n * side * side + cut * side, (n + 1) * side * side);
  return out;
}

/** Summed squared error of each output row to its own memory row. */
export function squaredErrors(out: ArrayLike<number>, X: Mat, rows: number): number[] {
  const D = X.cols;
  return Array.from({ length: rows }, (_, b) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += (X.data[b * D + j] - out[b * D + j]) ** 2;
    return s;
  });
}

/** UHN's beta for softmax: SEP_PARAM / median over queries of |sum_i s(x_i, q)| (float64). */
export function uhnBeta(kind: Similarity["kind"], X: Mat, Q: Mat): number {
  const spec = { kind } as Similarity;
  const part = similarityPart(spec);
  const out = new Float64Array(X.rows);
  const sums: number[] = [];
  for (let b = 0; b < Q.rows; b++) {
    part.reference(X, Q.data.subarray(b * Q.cols, (b + 1) * Q.cols), spec, out);
    sums.push(Math.abs(out.reduce((a, v) => a + v, 0)));
  }
  sums.sort((a, b) => a - b);
  const med = sums[sums.length >> 1];
  return Number((SEP_PARAM / med).toPrecision(4));
}

/** The .hop model of one cell. */
export function uhnModel(kind: Similarity["kind"], sep: Separation, beta: number): Model {
  const fields = sep === "max"
    ? `similarity ${kind} mask topk(k = 1)`
    : `similarity ${kind} entropy shannon beta ${beta}`;
  const { models, diagnostics } = checkText(`model uhn { ${fields} }`, "bench/uhn.ts");
  if (!models.length) throw new Error(`${fields}: ${diagnostics.map((d) => d.message).join("; ")}`);
  return models[0];
}

export interface Cell {
  similarity: Similarity["kind"];
  separation: Separation;
  N: number;
  beta: number | null;
  correct: number;
  fraction: number;
  /** Largest |GPU - float64| over the state entries of the checked queries. */
  checkError: number;
  /** Checked queries whose correct/incorrect verdict differs between GPU and float64. */
  verdictsDiffer: number;
  checked: number;
}

/** One cell: all N queries on `ctx`'s GPU (null: the float64 reference only), `check` of them in float64. */
export async function runCell(
  ctx: GpuContext | null,
  kind: Similarity["kind"],
  sep: Separation,
  X: Mat,
  Q: Mat,
  check: number,
): Promise<Cell> {
  const beta = sep === "softmax" ? uhnBeta(kind, X, Q) : null;
  const model = uhnModel(kind, sep, beta ?? 1);
  const N = X.rows, D = X.cols;
  let states: ArrayLike<number>;
  if (ctx) {
    const r = await load(model, X, ctx);
    try {
      states = (await r.retrieve(Q)).states;
    } finally {
      r.destroy();
    }
  } else {
    states = retrieveReference(model, X, Q).states.data;
  }
  const errs = squaredErrors(states, X, N);
  const correct = errs.filter((e) => e <= ERROR_THRESHOLD).length;
  const nc = Math.min(check, N);
  const Qc = { rows: nc, cols: D, data: Q.data.subarray(0, nc * D) };
  const ref = retrieveReference(model, X, Qc).states.data;
  const refErrs = squaredErrors(ref, X, nc);
  let checkError = 0, verdictsDiffer = 0;
  for (let i = 0; i < nc * D; i++) checkError = Math.max(checkError, Math.abs(states[i] - ref[i]));
  for (let b = 0; b < nc; b++) {
    if ((errs[b] <= ERROR_THRESHOLD) !== (refErrs[b] <= ERROR_THRESHOLD)) verdictsDiffer++;
  }
  return {
    similarity: kind,
    separation: sep,
    N,
    beta,
    correct,
    fraction: correct / N,
    checkError,
    verdictsDiffer,
    checked: nc,
  };
}

/** The first N images as memories and their halved copies as queries. */
export function protocolData(images: Float64Array, side: number, N: number): { X: Mat; Q: Mat } {
  const D = side * side;
  return {
    X: { rows: N, cols: D, data: images.slice(0, N * D) },
    Q: { rows: N, cols: D, data: halveImages(images, N, side) },
  };
}

/** The table: one row per similarity and separation, the fraction correct per N. */
export function table(cells: Cell[], Ns: number[]): string {
  const keys = [...new Set(cells.map((c) => `${c.similarity}|${c.separation}`))];
  const head = [
    "similarity",
    "separation",
    ...Ns.map((n) => `N=${n}`),
    "f64 check: max diff, verdicts differ",
  ];
  const rows = keys.map((k) => {
    const [sim, sep] = k.split("|");
    const mine = cells.filter((c) => c.similarity === sim && c.separation === sep);
    const frac = Ns.map((n) => {
      const c = mine.find((m) => m.N === n);
      return c ? c.fraction.toFixed(3) : "-";
    });
    const err = Math.max(...mine.map((c) => c.checkError));
    const differ = mine.reduce((a, c) => a + c.verdictsDiffer, 0);
    const checked = mine.reduce((a, c) => a + c.checked, 0);
    return [sim, sep, ...frac, `${err.toExponential(1)}, ${differ}/${checked}`];
  });
  const all = [head, ...rows];
  const widths = head.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const line = (r: string[]) => `| ${r.map((v, j) => v.padEnd(widths[j])).join(" | ")} |`;
  return [line(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)]
    .join(
      "\n",
    );
}

/** The SVG: fraction correct against N, one panel per separation (UHN's own ones dashed). */
export function figure(cells: Cell[], similarities: Similarity["kind"][]): string {
  const plots = SEPARATIONS.map((sep) => {
    const series: Series[] = similarities.map((kind, k) => {
      const mine = cells.filter((c) => c.similarity === kind && c.separation === sep);
      return {
        label: kind,
        x: mine.map((c) => c.N),
        y: mine.map((c) => c.fraction),
        dashed: k >= 5, // the palette has 8 colours: the later ones repeat, dashed
      };
    });
    return linePlot({
      title: `UHN retrieval, ${sep === "max" ? "max (topk k = 1)" : "softmax"}`,
      xLabel: "memories N",
      yLabel: "fraction correct",
      series,
      logX: true,
    });
  });
  return panels(plots, 2);
}

// ---------------------------------------------------------------------------------------------
// The run

function parseArgs(argv: string[]) {
  const opts = {
    Ns: [10, 50, 100, 300, 500],
    similarities: [...DEFAULT_SIMILARITIES] as Similarity["kind"][],
    check: 8,
    out: "",
    svg: "bench/results/uhn.svg",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--N") opts.Ns = v.split(",").map(Number), i++;
    else if (a === "--similarities") opts.similarities = v.split(",") as Similarity["kind"][], i++;
    else if (a === "--check") opts.check = Number(v), i++;
    else if (a === "--out") opts.out = v, i++;
    else if (a === "--svg") opts.svg = v, i++;
    else throw new Error(`bench/uhn.ts: unknown argument ${a}`);
  }
  if (opts.Ns.some((n) => !(Number.isInteger(n) && n >= 1))) {
    throw new Error("--N: positive integers");
  }
  return opts;
}

async function main() {
  const opts = parseArgs(Deno.args);
  const log = (s: string) => console.error(s);
  const ctx = await acquireDevice();
  log(`adapter: ${ctx.info}`);
  const maxN = Math.max(...opts.Ns);
  const { images, side } = await loadFashionMnist({ split: "train", limit: maxN });
  const t0 = performance.now();
  const cells: Cell[] = [];
  for (const N of opts.Ns) {
    const { X, Q } = protocolData(images, side, N);
    for (const kind of opts.similarities) {
      for (const sep of SEPARATIONS) {
        const c = await runCell(ctx, kind, sep, X, Q, opts.check);
        cells.push(c);
        log(
          `N=${N} ${kind} ${sep}: ${c.correct}/${N} correct` +
            (c.beta !== null ? ` (beta ${c.beta})` : "") +
            `, f64 check ${c.checkError.toExponential(1)}, ${
              ((performance.now() - t0) / 1000).toFixed(0)
            } s`,
        );
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `UHN protocol on Fashion-MNIST (first N training images, bottom half masked, correct if ` +
      `sum (x - out)^2 <= ${ERROR_THRESHOLD}), one step, GPU: ${ctx.info}\n`,
  );
  console.log(table(cells, opts.Ns));
  console.log(`\n${seconds.toFixed(0)} s`);
  const out = opts.out || `bench/results/uhn-${slug(ctx.info)}-${dateStamp(new Date())}.json`;
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        experiment: "UHN retrieval (MATH.md 7.2), bench/uhn.ts",
        adapter: ctx.info,
        data: "Fashion-MNIST train, first N images, pixels / 255",
        corruption: "halve_continuous_img: rows 14..27 set to 0",
        threshold: ERROR_THRESHOLD,
        softmaxBeta: `${SEP_PARAM} / median_q |sum_i s_i(q)|`,
        seconds,
        cells,
      },
      null,
      2,
    ) + "\n",
  );
  log(`wrote ${out}`);
  if (opts.svg) {
    await Deno.writeTextFile(opts.svg, figure(cells, opts.similarities));
    log(`wrote ${opts.svg}`);
  }
}

if (import.meta.main) await main();

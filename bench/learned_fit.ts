// Fit times of the learned similarities at the protocol sizes (U-Hop: M = 500 memories of
// D = 784, MATH.md 6.2), on Fashion-MNIST train images in [0, 1] (bench/lib/fashion_mnist.ts):
// the fit is float64 on the host, once per load (src/fit/). Prints one line per similarity
// (A-Hop with geometric scales: `scales = all` would keep 5.8 GiB of footprints at this size).
//
//   deno run -A bench/learned_fit.ts [M]
import { asMapFit, isAhopFit } from "../src/fit/store.ts";
import { checkText } from "../src/check.ts";
import { loadReference } from "../src/reference/interpreter.ts";
import { loadFashionMnist } from "./lib/fashion_mnist.ts";

const M = Number(Deno.args[0] ?? 500);
const { images, side } = await loadFashionMnist({ limit: M });
const D = side * side;
const X = { rows: M, cols: D, data: images.subarray(0, M * D) };
const models = checkText(
  `model uhop_max { similarity uhop }
   model uhop_mean { similarity uhop(loss = mean, lr = 1, schedule = inverse_sqrt, fraction = 1) }
   model kernelized { similarity kernelized }
   model ahop_geometric { similarity ahop(scales = geometric) beta 8 }`,
  "learned_fit.hop",
).models;
for (const m of models) {
  const t0 = performance.now();
  const { fit } = loadReference(m, X);
  const s = (performance.now() - t0) / 1000;
  if (fit && isAhopFit(fit)) {
    const l = fit.losses;
    console.log(
      `${m.name}: M = ${M}, D = ${D}, ${fit.settings.samples * M} context samples: ${
        s.toFixed(2)
      } s; loss ${l[0].toPrecision(4)} -> ${l[l.length - 1].toPrecision(4)}`,
    );
    continue;
  }
  const l = asMapFit(fit!).result.losses;
  console.log(
    `${m.name}: M = ${M}, D = ${D}, fitted on ${asMapFit(fit!).result.fitted}: ${
      s.toFixed(2)
    } s; loss ${l[0].toPrecision(4)} -> ${l[l.length - 1].toPrecision(4)}; min separation ${
      asMapFit(fit!).result.separation.before.toPrecision(3)
    } -> ${asMapFit(fit!).result.separation.after.toPrecision(3)}`,
  );
}

// Where A-Hop's footprints are cheaper, measured in one run with the two paths interleaved: the
// host's per-pair sort (ahopScores, as the fit computes footprints) against hopc's GPU footprint
// pass (one retrieval step, whose cost is that pass), on the same (query, memory) pairs.
{
  const { acquireDevice } = await import("../src/runtime/device.ts");
  const { load } = await import("../src/runtime/retriever.ts");
  const { ahopScores } = await import("../src/fit/ahop.ts");
  const { timeInterleaved } = await import("./lib/common.ts");
  const ctx = await acquireDevice({ required: false });
  const [m, b] = [Math.min(M, 100), 100];
  const model = checkText(
    "model a { similarity ahop(samples = 1, epochs = 1, scales = geometric) }",
    "footprint.hop",
  ).models[0];
  const Xs = { rows: m, cols: D, data: images.subarray(0, m * D) };
  const Q = { rows: b, cols: D, data: images.subarray(m * D, (m + b) * D) };
  const { fit } = loadReference(model, Xs);
  if (ctx && fit && isAhopFit(fit)) {
    const gpu = await load(model, Xs, ctx, {}, { fit });
    const params = fit.params;
    const out = new Float64Array(m);
    const host = () => {
      for (let q = 0; q < b; q++) {
        ahopScores(params, Xs.data, m, D, Q.data.subarray(q * D, (q + 1) * D), out);
      }
      return Promise.resolve();
    };
    const { results } = await timeInterleaved(
      [{ name: "host", fn: host }, { name: "gpu", fn: () => gpu.retrieve(Q) }],
      2,
    );
    const ms = (n: string) => results.get(n)!.timing!.ms;
    const pairs = m * b;
    console.log(
      `A-Hop footprints, ${pairs} pairs at D = ${D} on ${ctx.info}: host sort ${
        (ms("host") / pairs).toFixed(4)
      } ms per pair, GPU footprint pass (one step) ${(ms("gpu") / pairs).toFixed(4)} ms per pair`,
    );
    gpu.destroy();
  }
}

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

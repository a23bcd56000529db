// The UHN experiment's core (bench/uhn.ts): the halving corruption, the squared-error rule, UHN's
// softmax beta, and one cell of the protocol on a handful of Fashion-MNIST images, on the float64
// reference and on the GPU (whose verdicts must match the reference's). No timing is asserted.
import assert from "node:assert/strict";
import {
  ERROR_THRESHOLD,
  halveImages,
  protocolData,
  runCell,
  SEP_PARAM,
  squaredErrors,
  uhnBeta,
} from "../bench/uhn.ts";
import { FASHION_MNIST_DIR, loadFashionMnist } from "../bench/lib/fashion_mnist.ts";
import { gpuContext, gpuTest } from "./helpers/gpu.ts";

Deno.test("halveImages: UHN's halve_continuous_img zeroes rows int(side / 2) .. side - 1", () => {
  const side = 5, count = 2;
  const img = Float64Array.from({ length: count * side * side }, (_, i) => i + 1);
  const h = halveImages(img, count, side);
  for (let n = 0; n < count; n++) {
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const i = n * side * side + r * side + c;
        assert.equal(h[i], r < 2 ? img[i] : 0, `image ${n} row ${r}`);
      }
    }
  }
  assert.equal(img[24], 25, "the input is not changed");
});

Deno.test("squaredErrors and uhnBeta: by hand", () => {
  const X = { rows: 2, cols: 2, data: Float64Array.from([1, 0, 0, 1]) };
  assert.deepEqual(squaredErrors([1, 1, 0, -2], X, 2), [1, 9]);
  // dot scores of q = (1, 1): 1 and 1, sum 2; of q = (3, 0): 3 and 0, sum 3; median (upper) 3.
  const Q = { rows: 2, cols: 2, data: Float64Array.from([1, 1, 3, 0]) };
  assert.equal(SEP_PARAM, 1000);
  assert.equal(uhnBeta("dot", X, Q), 333.3); // 1000 / 3 to 4 digits
  // manhattan scores are negative: the absolute sum. q = (1, 1): -1 - 1; q = (3, 0): -2 - 4.
  assert.equal(uhnBeta("manhattan", X, Q), 166.7); // 1000 / 6
});

const haveData = (() => {
  try {
    Deno.statSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
    return true;
  } catch {
    return false;
  }
})();

const N = 6;

Deno.test({
  name:
    "one cell on 6 Fashion-MNIST images (reference): distances find most halved images under max",
  ignore: !haveData,
  fn: async () => {
    const { images, side } = await loadFashionMnist({ split: "train", limit: N });
    const { X, Q } = protocolData(images, side, N);
    for (const kind of ["reciprocal_manhattan", "reverse_kl", "dot"] as const) {
      const max = await runCell(null, kind, "max", X, Q, N);
      assert.equal(max.beta, null);
      assert.equal(max.verdictsDiffer, 0);
      assert.ok(max.correct >= 0 && max.correct <= N);
      // Halved queries of 6 distinct images: the distances find most of them.
      if (kind !== "dot") assert.ok(max.correct >= 4, `${kind}: ${max.correct}/${N}`);
      const soft = await runCell(null, kind, "softmax", X, Q, N);
      assert.ok(soft.beta! > 0 && Number.isFinite(soft.beta!));
      assert.equal(soft.checkError, 0, "the reference against itself");
    }
    // The rule itself: a memory retrieved exactly has error 0, the threshold is UHN's.
    assert.equal(ERROR_THRESHOLD, 60);
  },
});

gpuTest("one cell on 6 Fashion-MNIST images: the GPU's verdicts are the reference's", async () => {
  if (!haveData) return;
  const { images, side } = await loadFashionMnist({ split: "train", limit: N });
  const { X, Q } = protocolData(images, side, N);
  for (const kind of ["euclidean", "reciprocal_euclidean", "js"] as const) {
    for (const sep of ["softmax", "max"] as const) {
      const gpu = await runCell(gpuContext, kind, sep, X, Q, N);
      const ref = await runCell(null, kind, sep, X, Q, N);
      assert.equal(gpu.verdictsDiffer, 0, `${kind} ${sep}`);
      assert.equal(gpu.correct, ref.correct, `${kind} ${sep}`);
      assert.ok(gpu.checkError < 1e-4, `${kind} ${sep}: ${gpu.checkError}`);
    }
  }
});

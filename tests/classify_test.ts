// Retrieval as classification on real digits (examples/classify.ts): MNIST training digits as
// keys, their one-hot labels as values; the GPU's predicted classes equal the float64 reference's
// (a flip is allowed only where the reference's top two class scores are within 1e-4, a tie that
// float32 may break either way), and the accuracy, computed from the labels, is far above chance.
import assert from "node:assert/strict";
import { classify } from "../examples/classify.ts";
import { gpuTest } from "./helpers/gpu.ts";

gpuTest(
  "classification by values: MNIST, GPU = reference predictions, accuracy >> chance",
  async () => {
    const results = await classify(100, 20);
    for (const r of results) {
      r.gpu.forEach((c, i) => {
        if (c !== r.reference[i]) {
          assert.ok(
            r.margins[i] < 1e-4,
            `${r.model}: query ${i} GPU ${c} vs reference ${r.reference[i]}`,
          );
        }
      });
      console.log(
        `${r.model}: accuracy ${(100 * r.accuracy).toFixed(1)}% (reference ${
          (100 * r.referenceAccuracy).toFixed(1)
        }%) on ${r.labels.length} held-out digits, chance 10%`,
      );
      assert.ok(r.referenceAccuracy > 0.6, `${r.model}: reference accuracy ${r.referenceAccuracy}`);
      assert.ok(r.accuracy > 0.6, `${r.model}: GPU accuracy ${r.accuracy}`);
    }
  },
);

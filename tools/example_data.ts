// Writes examples/data/memories.npy (64 x 16) and queries.npy (8 x 16): the memories are smooth
// random patterns, the queries are memories 0, 8, ..., 56 with their second half zeroed, the usual
// half-masked retrieval test. Deterministic, so the committed files can be made again.
import { encodeNpy } from "../src/io/npy.ts";
import { uniform01 } from "../src/parts/rng.ts";

const M = 64, D = 16, B = 8;
const X = new Float64Array(M * D);
for (let i = 0; i < M; i++) {
  for (let d = 0; d < D; d++) X[i * D + d] = 2 * uniform01(2024, i, d) - 1;
}
const Q = new Float64Array(B * D);
for (let b = 0; b < B; b++) {
  for (let d = 0; d < D / 2; d++) Q[b * D + d] = X[b * 8 * D + d];
}
await Deno.writeFile("examples/data/memories.npy", encodeNpy({ rows: M, cols: D, data: X }));
await Deno.writeFile("examples/data/queries.npy", encodeNpy({ rows: B, cols: D, data: Q }));
console.log(`wrote examples/data/memories.npy [${M}, ${D}] and queries.npy [${B}, ${D}]`);

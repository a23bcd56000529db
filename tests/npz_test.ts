// .npz archives (src/io/npz.ts): what numpy.savez and numpy.savez_compressed wrote (fixtures made
// with numpy 2.4: zip64 local headers, float64 and float32 members), hopc's own archives read back
// exactly, and broken archives rejected with the file's name.
import assert from "node:assert/strict";
import { crc32, decodeZip, encodeNpz, encodeZip, parseNpz } from "../src/io/npz.ts";
import { HopError } from "../src/diagnostics.ts";

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
// np.savez(buf, W=[[1.5, -2, 3.25], [0, 1e-300, 7]] (float64), b=[[0.5, -1, 2]] (float32))
const SAVEZ =
  "UEsDBC0AAAAAAAAAIQCeDTUW//////////8FABQAVy5ucHkBABAAsAAAAAAAAACwAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAA+D8AAAAAAAAAwAAAAAAAAApAAAAAAAAAAABZ8/jCH26lAQAAAAAAABxAUEsDBC0AAAAAAAAAIQBMnQP3//////////8FABQAYi5ucHkBABAAjAAAAAAAAACMAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgxLCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAPwAAgL8AAABAUEsBAi0DLQAAAAAAAAAhAJ4NNRawAAAAsAAAAAUAAAAAAAAAAAAAAIABAAAAAFcubnB5UEsBAi0DLQAAAAAAAAAhAEydA/eMAAAAjAAAAAUAAAAAAAAAAAAAAIAB5wAAAGIubnB5UEsFBgAAAAACAAIAZgAAAKoBAAAAAA==";
const SAVEZ_COMPRESSED =
  "UEsDBC0AAAAIAAAAIQCeDTUW//////////8FABQAVy5ucHkBABAAsAAAAAAAAABhAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqGuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GkY6CsaaOgq1CmQDLgYw+GEPoRkOQCguByifIfLzj0PyeUsZITwZBwBQSwMELQAAAAgAAAAhAEydA/f//////////wUAFABiLm5weQEAEACMAAAAAAAAAFEAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNmoq6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkahjoKxpo6CrUKZAMuBgYGewaGhv1A2gEAUEsBAi0DLQAAAAgAAAAhAJ4NNRZhAAAAsAAAAAUAAAAAAAAAAAAAAIABAAAAAFcubnB5UEsBAi0DLQAAAAgAAAAhAEydA/dRAAAAjAAAAAUAAAAAAAAAAAAAAIABmAAAAGIubnB5UEsFBgAAAAACAAIAZgAAACABAAAAAA==";

for (const [name, text] of [["savez", SAVEZ], ["savez_compressed", SAVEZ_COMPRESSED]]) {
  Deno.test(`reads what numpy.${name} wrote`, async () => {
    const { arrays, other } = await parseNpz(b64(text), "fit.npz");
    assert.deepEqual(Object.keys(other), []);
    assert.deepEqual([arrays.W.rows, arrays.W.cols], [2, 3]);
    assert.deepEqual(Array.from(arrays.W.data), [1.5, -2, 3.25, 0, 1e-300, 7]);
    assert.deepEqual(Array.from(arrays.b.data), [0.5, -1, 2]);
  });
}

Deno.test("hopc's archives read back exactly, with their byte members", async () => {
  const W = { rows: 2, cols: 2, data: Float64Array.from([Math.PI, -1e-310, 1 / 3, 2 ** 60]) };
  const meta = new TextEncoder().encode('{"loss":"uniform_max"}');
  const back = await parseNpz(encodeNpz({ W }, { "meta.json": meta }), "x.npz");
  assert.deepEqual(Array.from(back.arrays.W.data), Array.from(W.data));
  assert.deepEqual(Array.from(back.other["meta.json"]), Array.from(meta));
});

Deno.test("CRC-32 check values; broken archives are input errors naming the file", async () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
  const zip = encodeZip({ "a.npy": new Uint8Array([1, 2, 3]) });
  assert.deepEqual(Array.from((await decodeZip(zip, "z.npz"))["a.npy"]), [1, 2, 3]);
  const flipped = zip.slice();
  flipped[30 + "a.npy".length] ^= 0xff; // first data byte
  await assert.rejects(
    decodeZip(flipped, "z.npz"),
    (e: unknown) =>
      e instanceof HopError && /z\.npz/.test(e.message + JSON.stringify(e.diagnostics)) &&
      /CRC-32/.test(JSON.stringify(e.diagnostics)),
  );
  await assert.rejects(decodeZip(new Uint8Array(10), "y.npz"), /end-of-directory/);
  await assert.rejects(
    parseNpz(encodeZip({ "W.npy": new Uint8Array([1, 2]) }), "w.npz"),
    /w\.npz:W\.npy/,
  );
});

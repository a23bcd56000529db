// `.npy` inputs for the reader: well-formed files of every supported version and dtype, then
// mutated headers (dtype, order, shape text, header length), bytes and lengths.
import type { Rng } from "./language.ts";

const SHAPES = [
  "(2, 3)",
  "(0, 4)",
  "(3, 0)",
  "(1,)",
  "(2, 3, 4)",
  "()",
  "(-1, 2)",
  "(1e308, 1)",
  "(2.5, 2)",
  "(9007199254740993, 0)",
  "(4294967296, 4294967296)",
  "(0x10, 1)",
  "(1 , 1 ,)",
  "(NaN, 1)",
  `(${"9".repeat(400)}, 1)`,
  "(2, 3",
  "2, 3)",
];
const DESCRS = ["<f4", "<f8", ">f4", "|u1", "<i4", "<f2", "", "<f4'", "<f16", "O"];

function encode(rng: Rng, major: number, descr: string, fortran: string, shape: string, n: number) {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  if (rng.chance(0.1)) header = header.replace(/'/g, '"');
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  header = header.padEnd(total - prefix - 1, " ") + "\n";
  const itemSize = descr === "<f8" ? 8 : 4;
  const out = new Uint8Array(total + itemSize * n);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header).subarray(0, header.length), prefix);
  for (let i = 0; i < n; i++) {
    const v = rng.chance(0.02) ? rng.pick([NaN, Infinity, -Infinity]) : rng.next() * 4 - 2;
    if (itemSize === 8) view.setFloat64(total + 8 * i, v, true);
    else view.setFloat32(total + 4 * i, v, true);
  }
  return out;
}

export function npyCase(rng: Rng): Uint8Array {
  const rows = rng.int(5);
  const cols = rng.int(5);
  const major = rng.pick([1, 1, 2, 3]);
  const good = rng.chance(0.4);
  const descr = good ? rng.pick(["<f4", "<f8"]) : rng.pick(DESCRS);
  const fortran = good ? "False" : rng.pick(["False", "True", "false", "1"]);
  const shape = good ? `(${rows}, ${cols})` : rng.pick([...SHAPES, `(${rows}, ${cols})`]);
  let bytes: Uint8Array = encode(rng, major, descr, fortran, shape, rows * cols);
  const ops = good ? rng.int(2) : 1 + rng.int(3);
  for (let i = 0; i < ops; i++) bytes = mutateBytes(bytes, rng, major);
  return bytes;
}

function mutateBytes(b: Uint8Array, rng: Rng, major: number): Uint8Array {
  const out = new Uint8Array(b);
  const view = new DataView(out.buffer);
  switch (rng.int(7)) {
    case 0:
      return b.subarray(0, rng.int(b.length + 1));
    case 1:
      for (let i = 0; i < 1 + rng.int(4); i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    case 2: {
      const value = rng.pick([0, 1, 0xffff, 0x7fffffff, 0xffffffff, b.length, b.length - 10]);
      if (out.length < 12) return out;
      if (major === 1) view.setUint16(8, value & 0xffff, true);
      else view.setUint32(8, value >>> 0, true);
      return out;
    }
    case 3:
      out[6] = rng.pick([0, 1, 2, 3, 4, 255]);
      return out;
    case 4: {
      const extra = new Uint8Array(b.length + 1 + rng.int(16));
      extra.set(b);
      return extra;
    }
    case 5:
      return new Uint8Array(Array.from({ length: rng.int(64) }, () => rng.int(256)));
    default:
      // A header byte becomes a character that matters to the header's syntax.
      out[10 + rng.int(Math.max(1, Math.min(out.length - 10, 100)))] = rng.pick(
        [..."'(),:{} \n\u0000\u00ff"].map((c) => c.charCodeAt(0)),
      );
      return out;
  }
}

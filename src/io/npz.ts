// NumPy `.npz` archives: a zip of `.npy` members, as numpy.savez writes them (stored, no
// compression), so `numpy.load("fit.npz")["W"]` reads what hopc saved. Reads stored members and
// deflated ones (numpy.savez_compressed), through DecompressionStream. Members whose name does not
// end in `.npy` (hopc's `meta.json`) come back as bytes, as numpy returns them too. Bytes only.
import { inputError } from "../diagnostics.ts";
import { type Array2D, encodeNpy, parseNpy } from "./npy.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The zip format's CRC-32 (IEEE 802.3, reflected). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of the members, stored (method 0), in the given order. */
export function encodeZip(members: Record<string, Uint8Array>): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(members)) {
    const fileName = enc.encode(name);
    const crc = crc32(data);
    const local = new Uint8Array(30 + fileName.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true); // version needed: 2.0
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, fileName.length, true);
    local.set(fileName, 30);
    const entry = new Uint8Array(46 + fileName.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, fileName.length, true);
    cv.setUint32(42, offset, true);
    entry.set(fileName, 46);
    parts.push(local, data);
    central.push(entry);
    offset += local.length + data.length;
  }
  const centralSize = central.reduce((n, e) => n + e.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + centralSize + 22);
  let at = 0;
  for (const p of [...parts, ...central, end]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The members of a zip archive by name; `file` is only used in messages. */
export async function decodeZip(
  bytes: Uint8Array,
  file: string,
): Promise<Record<string, Uint8Array>> {
  const fail = (what: string) =>
    inputError(file, `not a usable .npz file: ${what}`, "save it with numpy.savez");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw fail("no zip end-of-directory record");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const dec = new TextDecoder();
  const out: Record<string, Uint8Array> = {};
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) {
      throw fail("a broken central directory");
    }
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = dec.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) {
      throw fail(`member ${name} has no local header`);
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compressed > bytes.length) throw fail(`member ${name} is truncated`);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) data = await inflateRaw(raw);
    else throw fail(`member ${name} uses compression method ${method} (stored or deflate only)`);
    if (data.length !== size || crc32(data) !== crc) {
      throw fail(`member ${name} fails its CRC-32 check`);
    }
    out[name] = data;
  }
  return out;
}

/** A .npz archive of 2-D float64 arrays (member `<name>.npy`, exact) and raw byte members. */
export function encodeNpz(
  arrays: Record<string, Array2D>,
  extra: Record<string, Uint8Array> = {},
): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(arrays)) members[`${name}.npy`] = encodeNpy(a, "<f8");
  return encodeZip({ ...members, ...extra });
}

/** The 2-D arrays of a .npz archive by name (without `.npy`), and its other members as bytes. */
export async function parseNpz(
  bytes: Uint8Array,
  file: string,
): Promise<{ arrays: Record<string, Array2D>; other: Record<string, Uint8Array> }> {
  const members = await decodeZip(bytes, file);
  const arrays: Record<string, Array2D> = {};
  const other: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(members)) {
    if (name.endsWith(".npy")) arrays[name.slice(0, -4)] = parseNpy(data, `${file}:${name}`);
    else other[name] = data;
  }
  return { arrays, other };
}

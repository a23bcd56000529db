// Reading generated WGSL in tests: the bytes its workgroup variables declare.
import assert from "node:assert/strict";

/** `const NAME: u32 = 12u;` values of a (specialized) WGSL text. */
function constValues(code: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of code.matchAll(/^const\s+(\w+)\s*:\s*(?:u32|i32)\s*=\s*(\d+)[ui]?\s*;/gm)) {
    out.set(m[1], Number(m[2]));
  }
  return out;
}

const SCALAR_BYTES: Record<string, number> = {
  "atomic<u32>": 4,
  "f32": 4,
  "u32": 4,
  "i32": 4,
  "vec2<f32>": 8,
  "vec2<u32>": 8,
  "vec4<f32>": 16,
  "vec4<u32>": 16,
};

/** An array count: a product (or sum) of integer literals and consts. */
function evalCount(expr: string, consts: Map<string, number>): number {
  const sum = expr.split("+").map((term) =>
    term.split("*").map((f) => {
      const t = f.trim().replace(/u$/, "");
      if (/^\d+$/.test(t)) return Number(t);
      const v = consts.get(t);
      assert.ok(v !== undefined, `unknown array count term \`${t}\` in \`${expr}\``);
      return v;
    }).reduce((a, b) => a * b, 1)
  );
  return sum.reduce((a, b) => a + b, 0);
}

/** Bytes of every `var<workgroup>` declaration of a specialized WGSL text, by variable. */
export function workgroupDeclarations(code: string): Map<string, number> {
  const consts = constValues(code);
  const out = new Map<string, number>();
  for (const m of code.matchAll(/^var<workgroup>\s+(\w+)\s*:\s*(.+?);/gm)) {
    const [, name, type] = m;
    const array = /^array<\s*(\w+(?:<\w+>)?)\s*,\s*([^>]+)>$/.exec(type.trim());
    const elem = array ? array[1] : type.trim();
    const bytes = SCALAR_BYTES[elem];
    assert.ok(bytes !== undefined, `workgroup variable ${name}: unexpected type ${type}`);
    out.set(name, bytes * (array ? evalCount(array[2], consts) : 1));
  }
  return out;
}

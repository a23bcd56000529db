// Builds the playground into a static folder (default dist/playground/, gitignored) that any
// static host can serve: the page's TypeScript bundled for the browser by `deno bundle` (Deno's
// built-in esbuild, so no bundler dependency), the HTML and CSS, and the built-in data.
//
//   deno task playground:build [--out DIR]
const here = new URL("./", import.meta.url);

/** The bundled entry points: the page, its reference worker, the generated-modules check page. */
const ENTRIES = ["main.ts", "reference_worker.ts", "generated_check.ts"];
const STATIC = ["index.html", "generated_check.html", "style.css"];
const DATA = ["data/mnist.npy", "data/fashion.npy"];

export async function buildPlayground(outDir: string): Promise<void> {
  await Deno.mkdir(`${outDir}/data`, { recursive: true });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--minify",
      "--outdir",
      outDir,
      ...ENTRIES.map((e) => new URL(e, here).pathname),
    ],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  }
  for (const f of [...STATIC, ...DATA]) await Deno.copyFile(new URL(f, here), `${outDir}/${f}`);
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const out = i >= 0 ? Deno.args[i + 1] : new URL("../dist/playground", here).pathname;
  await buildPlayground(out);
  console.log(`playground built in ${out}`);
}

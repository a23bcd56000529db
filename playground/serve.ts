// `deno task playground`: builds the playground and serves it on localhost (`--port N`, default
// 8787). The server is a plain static file server over the built folder; the browser test uses
// the same function on a free port.
import { buildPlayground } from "./build.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  npy: "application/octet-stream",
  png: "image/png",
};

/** Serve `dir` on 127.0.0.1 (port 0: any free port); resolves once it listens. */
export function serveDir(dir: string, port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    let path = decodeURIComponent(new URL(req.url).pathname);
    if (path.endsWith("/")) path += "index.html";
    // Only files inside dir: no `..` segments.
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${dir}${path}`);
      const ext = path.slice(path.lastIndexOf(".") + 1);
      return new Response(body, {
        headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port needs a port number, got ${Deno.args[i + 1]}`);
    Deno.exit(2);
  }
  const dir = new URL("../dist/playground", import.meta.url).pathname;
  await buildPlayground(dir);
  const server = serveDir(dir, port);
  console.log(`hopc playground: http://127.0.0.1:${server.addr.port}/`);
}

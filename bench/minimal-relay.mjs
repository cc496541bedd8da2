// The floor for a Node proxy: node:http server → undici Pool, no steps, plain JavaScript (no
// transpiler, no framework). What Tollgate's CPU per call is compared with in `npm run bench`.
//
//   node bench/minimal-relay.mjs <upstream origin>   # prints "LISTENING <port>"
//
// As lean as Node allows while still being a correct relay for the bench traffic: the request body
// is collected (one Buffer), forwarded with the headers MCP needs through a keep-alive Pool (same
// pool settings as the gateway's HTTP upstreams), and the answer is written with one writeHead and
// one end() (one writev). No parsing, no logging, no per-request closures beyond Node's own.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const origin = process.argv[2];
if (!origin) {
  process.stderr.write('usage: node bench/minimal-relay.mjs <upstream origin>\n');
  process.exit(2);
}
const pool = new Pool(origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
const FORWARD = ['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];

function relay(req, res, body) {
  const headers = {};
  for (const name of FORWARD) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  pool.request({ method: req.method, path: req.url, headers, body }, (err, up) => {
    if (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err.message));
      return;
    }
    const chunks = [];
    up.body.on('data', (c) => chunks.push(c));
    up.body.on('error', () => res.destroy());
    up.body.on('end', () => {
      const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const h = { 'content-length': out.length };
      for (const name of ['content-type', 'mcp-session-id']) {
        const v = up.headers[name];
        if (v !== undefined) h[name] = v;
      }
      res.writeHead(up.statusCode, h);
      res.end(out);
    });
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') return relay(req, res, undefined);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => relay(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
// Exit normally on SIGTERM, so that `--cpu-prof` (RELAY_ARGS in bench/ab.mjs) writes its profile.
process.on('SIGTERM', () => process.exit(0));

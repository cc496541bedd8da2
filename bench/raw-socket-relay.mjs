// What undici costs: the minimal relay (bench/minimal-relay.mjs) with its upstream client replaced by
// raw keep-alive sockets. Not a usable proxy, and not to be made into one: it understands only the
// bench upstream's answers (a Content-Length body, or an empty chunked one), trusts what it reads and
// handles no error. It measures how much CPU per call an HTTP/1.1 client of our own could save over
// undici (docs/benchmark-history.md, session 11), nothing else.
//
//   node bench/ab.mjs relay=relay raw=raw-relay      # Linux only (/proc)
import { createServer } from 'node:http';
import { connect } from 'node:net';

const origin = process.argv[2];
if (!origin) {
  process.stderr.write('usage: node bench/raw-socket-relay.mjs <upstream origin>\n');
  process.exit(2);
}
const upstream = new URL(origin);
const MAX_CONNECTIONS = 64;
const FORWARD = ['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version'];
const idle = [];
const waiting = [];
let opened = 0;

/** A free connection to the upstream, opened when there is none and fewer than the cap are. */
function withConnection(use) {
  const free = idle.pop();
  if (free) return use(free);
  if (opened >= MAX_CONNECTIONS) return waiting.push(use);
  opened++;
  const socket = connect(Number(upstream.port), upstream.hostname);
  socket.setNoDelay(true);
  socket.on('connect', () => use(reading(socket)));
}

function release(socket) {
  const next = waiting.shift();
  if (next) next(socket);
  else idle.push(socket);
}

/** Reads one answer at a time: status, two headers and the body, handed to `socket.answered`. */
function reading(socket) {
  let buffered;
  socket.on('data', (data) => {
    buffered = buffered ? Buffer.concat([buffered, data]) : data;
    const headEnd = buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = buffered.latin1Slice(0, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    // The bench upstream's 202s are chunked and empty: their body is the last chunk alone.
    const bodyBytes = length ? Number(length[1]) : 5;
    if (buffered.length < headEnd + 4 + bodyBytes) return;
    const body = length ? buffered.subarray(headEnd + 4, headEnd + 4 + bodyBytes) : Buffer.alloc(0);
    const headers = { 'content-length': body.length };
    const type = /\r\ncontent-type: *([^\r]*)/i.exec(head);
    if (type) headers['content-type'] = type[1];
    const session = /\r\nmcp-session-id: *([^\r]*)/i.exec(head);
    if (session) headers['mcp-session-id'] = session[1];
    buffered = undefined;
    const answered = socket.answered;
    release(socket);
    answered(Number(head.slice(9, 12)), headers, body);
  });
  return socket;
}

function relay(req, res, body) {
  let head = `${req.method} ${req.url} HTTP/1.1\r\nhost: ${upstream.host}\r\n`;
  for (const name of FORWARD) {
    const v = req.headers[name];
    if (v !== undefined) head += `${name}: ${v}\r\n`;
  }
  head += `content-length: ${body.length}\r\n\r\n`;
  withConnection((socket) => {
    socket.answered = (status, headers, out) => {
      res.writeHead(status, headers);
      res.end(out);
    };
    socket.write(head + body.latin1Slice(), 'latin1');
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => relay(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));

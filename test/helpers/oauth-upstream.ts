// An OAuth-protected Streamable HTTP MCP server and its authorization server in one small in-process
// HTTP server, for tests that need to steer the AS (hold an answer, count grants, refuse a reused
// refresh token) or push notifications on a user's GET stream. Unlike test/fixtures/upstream-as.ts
// (a real provider, browser logins) it has no login: tests put connections in the vault themselves.
//
// Tokens: `static-<user>` is always that user's; the AS issues `at-<user>-<n>` / `rt-<user>-<n>` and
// rotates refresh tokens, answering a refresh token used a second time with invalid_grant (as
// providers with reuse detection do).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Kind = 'probe' | 'prm' | 'metadata' | 'refresh' | 'register' | 'revoke' | 'get' | 'mcp';

export interface Held {
  /** Resolves when a request of this kind is waiting. */
  arrived: Promise<void>;
  release(): void;
}

export interface OAuthUpstream {
  origin: string;
  mcpUrl: string;
  /** Every request, by kind, in order of arrival. */
  readonly seen: Kind[];
  /** Refresh tokens presented to /token, in order (a repeat is a reuse). */
  readonly refreshTokens: string[];
  /** The next request of `kind` waits for release() before it is answered. */
  hold(kind: 'refresh' | 'register'): Held;
  /** What /token answers instead of its own logic (status and JSON body), for the next refreshes. */
  tokenAnswer: ((params: URLSearchParams) => { status: number; body: unknown } | undefined) | undefined;
  /** Sends `msg` on every open GET stream carrying `user`'s token; how many streams got it. */
  push(user: string, msg: unknown): number;
  /** GET streams open per user. */
  streams(user: string): number;
  /** Resolves when `user` has exactly `n` GET streams open (at once if so already). */
  streamsReach(user: string, n: number): Promise<void>;
  /** Users whose (valid) tokens the MCP server answers 403: their account may not use it. */
  readonly forbidden: Set<string>;
  /** Tokens issued to `user` as if they had just authorized. */
  grant(user: string): { accessToken: string; refreshToken: string };
  close(): Promise<void>;
}

const read = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let s = '';
    req.on('data', (d: Buffer) => (s += d.toString()));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startOAuthUpstream(): Promise<OAuthUpstream> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mcpUrl = `${origin}/mcp`;
  const seen: Kind[] = [];
  const refreshTokens: string[] = [];
  const valid = new Map<string, string>(); // access token -> user
  const refreshOf = new Map<string, { user: string; used: boolean }>();
  const holds = new Map<string, { waiting: Promise<void>; arrivedNow: () => void }>();
  const getStreams = new Map<string, Set<ServerResponse>>();
  /** Waiters for a user's stream count, told at each stream opened or closed. */
  const streamWaiters = new Set<() => void>();
  const streamsChanged = () => {
    for (const w of [...streamWaiters]) w();
  };
  let n = 0;
  let sessions = 0;

  const gate = async (kind: 'refresh' | 'register'): Promise<void> => {
    const h = holds.get(kind);
    if (!h) return;
    holds.delete(kind);
    h.arrivedNow();
    await h.waiting;
  };

  const userOf = (req: IncomingMessage): string | undefined => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return undefined;
    if (token.startsWith('static-')) return token.slice('static-'.length);
    return valid.get(token);
  };

  const issue = (user: string) => {
    n++;
    const at = `at-${user}-${n}`;
    const rt = `rt-${user}-${n}`;
    valid.set(at, user);
    refreshOf.set(rt, { user, used: false });
    return { access_token: at, refresh_token: rt, token_type: 'Bearer', expires_in: 3600 };
  };

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = new URLSearchParams(await read(req));
    if (p.get('grant_type') !== 'refresh_token') return json(res, 400, { error: 'unsupported_grant_type' });
    seen.push('refresh');
    const rt = p.get('refresh_token') ?? '';
    refreshTokens.push(rt);
    await gate('refresh');
    const own = fixture.tokenAnswer?.(p);
    if (own) return json(res, own.status, own.body);
    const r = refreshOf.get(rt);
    if (r?.used) {
      // Reuse detection: a spent refresh token revokes every token of its user.
      for (const [t, u] of valid) if (u === r.user) valid.delete(t);
      for (const x of refreshOf.values()) if (x.user === r.user) x.used = true;
    }
    if (!r || r.used) return json(res, 400, { error: 'invalid_grant' });
    r.used = true;
    json(res, 200, issue(r.user));
  }

  async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const user = userOf(req);
    if (!user) {
      seen.push('probe');
      await read(req);
      return json(
        res,
        401,
        { error: 'invalid_token' },
        { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` },
      );
    }
    if (fixture.forbidden.has(user)) {
      await read(req);
      return json(res, 403, { error: 'insufficient_scope' });
    }
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    if (req.method === 'GET') {
      seen.push('get');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(': open\n\n');
      let set = getStreams.get(user);
      if (!set) getStreams.set(user, (set = new Set()));
      set.add(res);
      streamsChanged();
      res.on('close', () => {
        set.delete(res);
        streamsChanged();
      });
      return;
    }
    seen.push('mcp');
    const msg = JSON.parse(await read(req)) as {
      id?: number | string;
      method: string;
      params?: Record<string, unknown>;
    };
    if (msg.id === undefined) return void res.writeHead(202).end();
    const result = (r: unknown, headers: Record<string, string> = {}) =>
      json(res, 200, { jsonrpc: '2.0', id: msg.id, result: r }, headers);
    switch (msg.method) {
      case 'initialize':
        return result(
          {
            protocolVersion: String(msg.params?.protocolVersion ?? '2025-06-18'),
            capabilities: { tools: { listChanged: true }, logging: {} },
            serverInfo: { name: 'acct', version: '1.0.0' },
          },
          { 'mcp-session-id': `s-${++sessions}` },
        );
      case 'tools/list':
        return result({ tools: [{ name: 'whoami', description: 'whose token', inputSchema: { type: 'object' } }] });
      case 'tools/call':
        return result({ content: [{ type: 'text', text: `sub=${user}` }] });
      default:
        return result({});
    }
  }

  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', origin).pathname;
    const fail = (err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
    };
    if (path === '/mcp') return void mcp(req, res).catch(fail);
    if (path.startsWith('/.well-known/oauth-protected-resource')) {
      seen.push('prm');
      return json(res, 200, { resource: mcpUrl, authorization_servers: [origin] });
    }
    if (path.startsWith('/.well-known/oauth-authorization-server')) {
      seen.push('metadata');
      return json(res, 200, {
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        registration_endpoint: `${origin}/register`,
        revocation_endpoint: `${origin}/revoke`,
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (path === '/token') return void token(req, res).catch(fail);
    if (path === '/register') {
      seen.push('register');
      const id = `client-${seen.filter((k) => k === 'register').length}`;
      return void gate('register')
        .then(() => json(res, 201, { client_id: id, client_secret: `${id}-secret`, redirect_uris: [] }))
        .catch(fail);
    }
    if (path === '/revoke') {
      seen.push('revoke');
      return void read(req).then(() => json(res, 200, {}));
    }
    json(res, 404, {});
  });

  const fixture: OAuthUpstream = {
    origin,
    mcpUrl,
    seen,
    refreshTokens,
    tokenAnswer: undefined,
    forbidden: new Set(),
    hold(kind) {
      let arrivedNow: () => void = () => undefined;
      const arrived = new Promise<void>((r) => (arrivedNow = r));
      let release: () => void = () => undefined;
      const waiting = new Promise<void>((r) => (release = r));
      holds.set(kind, { waiting, arrivedNow });
      return { arrived, release };
    },
    push(user, msg) {
      const set = getStreams.get(user) ?? new Set();
      for (const res of set) res.write(`event: message\ndata: ${JSON.stringify(msg)}\n\n`);
      return set.size;
    },
    streams: (user) => getStreams.get(user)?.size ?? 0,
    streamsReach: (user, n) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if ((getStreams.get(user)?.size ?? 0) !== n) return;
          streamWaiters.delete(check);
          resolve();
        };
        streamWaiters.add(check);
        check();
      }),
    grant(user) {
      const t = issue(user);
      return { accessToken: t.access_token, refreshToken: t.refresh_token };
    },
    close: () =>
      new Promise<void>((r) => {
        for (const set of getStreams.values()) for (const res of set) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return fixture;
}

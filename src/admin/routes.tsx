// The admin API and web page, mounted at /admin. Admin credentials only (never an agent key):
// a Bearer token for the API and CLI, or the HttpOnly cookie the login form sets for the page.
import { randomBytes } from 'node:crypto';
import type { AgentUsage as LimitUsage } from '../limits/usage.js';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AuditRecord } from '../audit/record.js';
import { errorResponse } from '../http/respond.js';
import { readBody } from '../http/node-io.js';
import { ADMIN_COOKIE, adminAuth, approverOf, unauthorized } from './admin-auth.js';
import { AdminSessions } from './admin-session.js';
import { operatorTokens } from '../auth/operator-tokens.js';
import { liveTailResponse, parseAuditParams, readAuditPage, type ParsedQuery, type Redact } from './audit-api.js';
import { AdminPage, type AgentUsage } from './page.js';
import { ApproverPage, LoginPage } from './shell.js';
import { html } from './html.js';
import { endUserSession, mountUserSignIn, userOf, type AdminSignIn } from './user-signin.js';
import { sameOrigin } from './csrf.js';
import { ADMIN_MAX_BODY_BYTES, adminBodyCap } from './body-cap.js';
import { bearerBound, hardening, isHttps } from './hardening.js';
import { OperatorAttempts } from '../auth/operator-attempts.js';
import { peerAddress } from '../http/client-address.js';
import { chartRange, chartsFromRecords, type ChartData, type ChartRange } from '../audit/charts.js';
import { readAudit, type AuditQuery } from '../audit/query.js';
import type { PgAuditStore } from '../audit/pg/store.js';

export interface FleetAudit {
  store: Pick<PgAuditStore, 'page' | 'charts' | 'instances'>;
  feed: { onRecord(l: (r: AuditRecord) => void): () => void };
}

/** Chart data for the range, from the fleet store or the local file. */
async function chartsOf(deps: AdminDeps, q: AuditQuery, range: ChartRange): Promise<ChartData | undefined> {
  const { limit: _l, since: _s, until: _u, ...filters } = q as AuditQuery & { cursor?: string };
  delete (filters as { cursor?: string }).cursor;
  if (deps.fleet) return deps.fleet.store.charts(filters, range);
  if (deps.auditPath === undefined) return undefined;
  const records = readAudit(deps.auditPath, { ...filters, since: range.from, until: range.to });
  return chartsFromRecords(records, range).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return chartsFromRecords([], range);
    throw err;
  });
}
import { mountPinRoutes, PinsSection, type AdminPins } from './pins.js';
import { ApprovalsSection, mountApprovalRoutes } from '../approvals/admin.js';
import type { ApprovalService } from '../approvals/service.js';
import { ConnectionsSection, type ConnectionRow } from './connections.js';
import { mountOAuthRoutes, OAuthSection, type AdminOAuth } from './oauth.js';

export const ADMIN_BASE = '/admin';

/** One limit of an agent with its current use (what the limits store reports). */
export type UsageLimit = LimitUsage;

export interface UpstreamStatus {
  name: string;
  transport: string;
  state: string;
  error?: string;
  tools: number;
  prompts: number;
  resources: number;
  /** Lists cut at the upstream's max_catalog_entries. */
  truncated?: string[];
  /** Present when the upstream has several replicas. */
  replicas?: { url: string; state: string; healthy: boolean; ejected: boolean; sessions: number; error?: string }[];
  /** Upstream sessions of single agents or sessions (isolation per_agent / per_session). */
  ownSessions?: number;
}

export interface AdminDeps {
  /** Plaintext admin tokens. */
  tokens: readonly string[];
  /** `sha256:<hex>` hashes of admin tokens. */
  tokenHashes: readonly string[];
  /** The audit JSONL file or its directory (rotated sets); undefined = audit disabled. */
  auditPath: string | undefined;
  /** Live records as they are written (the live tail). */
  recorder: { onRecord(l: (r: AuditRecord) => void): () => void };
  /** The fleet's records (audit.postgres): read and tailed there instead of the local file. */
  fleet?: FleetAudit;
  upstreams(): UpstreamStatus[];
  /** Known agent ids (from policies; may be empty). */
  agents(): string[];
  usage(agentId: string): Promise<UsageLimit[]>;
  reloadPolicies(): { ok: true } | { ok: false; problems: string[] };
  /** Tool pinning, when on: pending changes and their approval. */
  pins?: AdminPins;
  /** Human approval of tool calls: pending approvals and their decision. */
  approvals?: ApprovalService;
  /** Which users connected which upstream (per-user credentials); never tokens. */
  connections?: () => Promise<ConnectionRow[]>;
  /** Grants and clients of Tollgate's own authorization server (auth.oauth). */
  oauth?: AdminOAuth;
  /** Users sign in with their account to decide their approvals (auth.oauth; user-signin.tsx). */
  signIn?: AdminSignIn;
  /**
   * The audit writer's redactor. Live records reach listeners BEFORE the writer redacts them, so
   * without this the live tail would show arguments the log itself hides.
   */
  redact?: Redact;
  now?: () => number;
  /** Keep-alive comment interval of the live tail (default 15 s). */
  sseKeepaliveMs?: number;
  /** Shown in the page header. */
  name?: string;
  /** Keys that sign the page's session cookie, newest first (adminSessionKeys); default: random per process. */
  sessionKeys?: readonly Buffer[];
  /** Mark the cookie `Secure` on every response (the public URL is https, TLS ends in front of us). */
  secureCookies?: boolean;
  /** Wrong admin tokens per client address (shared with /metrics); default: counted by TCP peer. */
  attempts?: OperatorAttempts;
  /** Larger request bodies are refused with 413 on every admin route (default 1 MiB; see body-cap.ts). */
  maxBodyBytes?: number;
}

const MAX_FORM_BYTES = 8 * 1024;
const MAX_USAGE_AGENTS = 24;

function query(c: Context, now: number): ParsedQuery {
  return parseAuditParams((name) => c.req.queries(name) ?? [], now);
}

export function adminRoutes(deps: AdminDeps): Hono {
  const now = deps.now ?? Date.now;
  const tokens = operatorTokens(deps.tokens, deps.tokenHashes);
  const sessions = new AdminSessions({
    keys: deps.sessionKeys ?? [randomBytes(32)],
    tokenDigests: tokens.digests,
    now,
  });
  const attempts = deps.attempts ?? new OperatorAttempts({ addressOf: peerAddress });
  const apiAuth = adminAuth({ tokens, sessions, attempts, page: false });
  const pageAuth = adminAuth({ tokens, sessions, attempts, page: true });
  const secure = (c: Context) => isHttps(c, deps.secureCookies === true);
  // Only the approvals routes and the page ask for users; every other route is admin-token only.
  const signIn = deps.approvals ? deps.signIn : undefined;
  const approver = (c: Context) => approverOf(c, { tokens, sessions, attempts }, signIn && ((c) => userOf(c, signIn)));
  /** A user signed in with their account (and no admin credential) gets the approver's page. */
  const userPage: MiddlewareHandler = async (c, next) => {
    const who = signIn ? await approver(c) : undefined;
    if (who?.kind !== 'user') return next();
    const nonce = randomBytes(16).toString('base64');
    const section = <ApprovalsSection nonce={nonce} />;
    return html(c, <ApproverPage name={deps.name ?? 'Tollgate'} who={who} approvals={section} />, 200, nonce);
  };
  const csrf: MiddlewareHandler = async (c, next) => {
    if (!sameOrigin(c))
      return errorResponse(c, 'forbidden', 'cross-origin request refused (send the Origin header, or a Bearer token)');
    await next();
  };
  const app = new Hono();
  app.use('*', hardening);
  app.use('*', bearerBound(attempts));
  // Before credentials: whoever reaches /admin can send a body, with or without a token.
  app.use('*', adminBodyCap(deps.maxBodyBytes ?? ADMIN_MAX_BODY_BYTES));

  // --- Login and logout (the page's cookie) ---
  const accounts = signIn !== undefined;
  if (signIn) mountUserSignIn(app, signIn, secure);
  app.get('/login', (c) => html(c, <LoginPage accounts={accounts} />, 200));
  app.post('/login', async (c) => {
    // Login CSRF: a form posted from another site must not log this browser in.
    if (!sameOrigin(c, { allowMissing: true })) return errorResponse(c, 'forbidden', 'cross-origin login refused');
    const form = await readBody(c, MAX_FORM_BYTES).catch(() => undefined);
    if (form === undefined)
      return errorResponse(c, 'payload_too_large', `the login form is limited to ${MAX_FORM_BYTES} bytes`);
    // Right before the comparison (after the body is read): guesses sent at once cannot overtake it.
    const refused = attempts.refused(c);
    if (refused) return refused;
    const token = new URLSearchParams(form).get('token')?.trim();
    const which = tokens.match(token);
    if (which < 0) {
      if (token) attempts.failed(c);
      return html(c, <LoginPage accounts={accounts} error="That token is not an admin token." />, 401);
    }
    // An opaque session, not the token: it expires, and ends when its token is removed.
    setCookie(c, ADMIN_COOKIE, sessions.issue(which), {
      httpOnly: true,
      sameSite: 'Strict',
      path: ADMIN_BASE,
      secure: secure(c),
      maxAge: sessions.ttlSeconds,
    });
    return c.redirect(`${ADMIN_BASE}/`, 303);
  });
  app.post('/logout', csrf, async (c) => {
    sessions.end(getCookie(c, ADMIN_COOKIE));
    deleteCookie(c, ADMIN_COOKIE, { path: ADMIN_BASE, secure: secure(c) });
    if (signIn) await endUserSession(c, signIn, secure(c));
    return c.redirect(`${ADMIN_BASE}/login`, 303);
  });

  // --- JSON API, at /admin/… and /admin/api/… alike ---
  const api = new Hono();
  api.get('/audit', apiAuth, async (c) => {
    const q = query(c, now());
    if (!q.ok) return c.json({ error: 'invalid query', problems: q.problems }, 400);
    return c.json(deps.fleet ? await deps.fleet.store.page(q.query) : await readAuditPage(deps.auditPath, q.query));
  });
  api.get('/audit/stream', apiAuth, (c) => {
    const q = query(c, now());
    if (!q.ok) return c.json({ error: 'invalid query', problems: q.problems }, 400);
    const { limit: _limit, cursor: _cursor, ...filters } = q.query;
    // Opened with the page's cookie (a Bearer header decides alone): the stream ends with that session.
    const bearer = c.req.header('authorization')?.startsWith('Bearer ') === true;
    const cookie = bearer ? undefined : getCookie(c, ADMIN_COOKIE);
    return liveTailResponse({
      recorder: deps.fleet?.feed ?? deps.recorder,
      query: filters,
      redact: deps.redact,
      keepaliveMs: deps.sseKeepaliveMs ?? 15_000,
      signal: c.req.raw.signal,
      ...(cookie === undefined ? {} : { alive: () => sessions.valid(cookie) }),
    });
  });
  api.get('/agents/:id/usage', apiAuth, async (c) => {
    const agent = c.req.param('id');
    return c.json({ agent, limits: await deps.usage(agent) });
  });
  api.get('/upstreams', apiAuth, (c) => c.json(deps.upstreams()));
  api.post('/policies/reload', csrf, apiAuth, (c) => {
    const r = deps.reloadPolicies();
    return r.ok ? c.json(r) : c.json(r, 422);
  });
  if (deps.pins) mountPinRoutes(api, deps.pins, { apiAuth, csrf });
  if (deps.approvals) mountApprovalRoutes(api, deps.approvals, { csrf, approver, unauthorized });
  const connections = deps.connections;
  if (connections) api.get('/connections', apiAuth, async (c) => c.json({ connections: await connections() }));
  if (deps.oauth) mountOAuthRoutes(api, deps.oauth, { apiAuth, csrf });
  app.route('/api', api);
  app.route('/', api);

  // --- The page ---
  const page = async (c: Context): Promise<Response> => {
    const at = now();
    const q = query(c, at);
    const pageQuery = q.ok ? q.query : { limit: 100 };
    const result = await (deps.fleet
      ? deps.fleet.store.page(pageQuery)
      : readAuditPage(deps.auditPath, pageQuery)
    ).catch((err: Error) => ({ records: [], error: err.message }));
    const range = chartRange(pageQuery, at);
    const charts: { data?: ChartData | undefined; error?: string } = await chartsOf(deps, pageQuery, range).then(
      (data) => ({ data }),
      (err: Error) => ({ error: err.message }),
    );
    const instances = deps.fleet ? await deps.fleet.store.instances().catch(() => []) : undefined;
    const rangeLabel =
      pageQuery.since === undefined
        ? 'Last hour'
        : `${new Date(range.from).toISOString().slice(0, 16)}Z – ${pageQuery.until === undefined ? 'now' : `${new Date(range.to).toISOString().slice(0, 16)}Z`}`;
    const known = deps.agents();
    // `@gateway`, `@admin`, `@operator`: pin events, not agents with budgets.
    const seen = result.records.map((r) => r['gen_ai.agent.id']).filter((a) => !a.startsWith('@'));
    const agentIds = [...new Set([...known, ...seen])].slice(0, MAX_USAGE_AGENTS);
    const usage: AgentUsage[] = await Promise.all(
      agentIds.map((agent) =>
        deps.usage(agent).then(
          (limits) => ({ agent, limits }),
          (err: Error) => ({ agent, limits: [], error: err.message }),
        ),
      ),
    );
    const nonce = randomBytes(16).toString('base64');
    const params = new URL(c.req.url).searchParams;
    return html(
      c,
      <AdminPage
        name={deps.name ?? 'Tollgate'}
        nonce={nonce}
        now={at}
        params={params}
        problems={q.ok ? [] : q.problems}
        auditEnabled={deps.auditPath !== undefined || deps.fleet !== undefined}
        {...(charts.data || charts.error ? { charts: { ...charts, rangeLabel } } : {})}
        {...(instances ? { instances } : {})}
        page={result}
        agents={known}
        usage={usage}
        upstreams={deps.upstreams()}
        pins={
          <>
            {deps.pins && <PinsSection view={deps.pins.view()} />}
            {deps.oauth && <OAuthSection grants={await deps.oauth.grants()} clients={await deps.oauth.clients()} />}
          </>
        }
        approvals={deps.approvals && <ApprovalsSection nonce={nonce} />}
        connections={
          deps.connections &&
          (await deps.connections().then(
            (rows) => <ConnectionsSection rows={rows} />,
            (err: Error) => <ConnectionsSection rows={[]} error={err.message} />,
          ))
        }
      />,
      200,
      nonce,
    );
  };
  app.get('/', userPage, pageAuth, page);
  // `/admin/` (the strict router keeps it apart from `/admin`); anything else under /admin is unknown.
  const rootOnly: MiddlewareHandler = async (c, next) => (c.req.path === `${ADMIN_BASE}/` ? next() : c.notFound());
  app.get('/*', rootOnly, userPage, pageAuth, page);
  return app;
}

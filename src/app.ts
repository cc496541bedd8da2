// The request pipeline, in order, in one place. HTTP-level steps run once per HTTP request;
// MCP-level steps run once per JSON-RPC request, inside the relay, after routing has named the
// target (so policy can see `server` and the native tool name).
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { agentCors } from './http/cors.js';
import type { AppEnv } from './http/env.js';
import { originGuard } from './http/origin-guard.js';
import { bodyLimit } from './http/body-limit.js';
import { authenticate } from './http/authenticate.js';
import { metadataUrlFor, protectedResourceMetadata } from './http/protected-resource.js';
import { authorize } from './policy/authorize.js';
import { auditStep } from './audit/step.js';
import { limitsStep } from './limits/step.js';
import { errorResponse } from './http/respond.js';
import { requestContext } from './http/request-context.js';
import { streamableHttp } from './mcp/streamable-http.js';
import { legacySse } from './mcp/legacy-sse.js';
import type { McpStep } from './relay/scope.js';
import type { Gateway } from './gateway.js';
import { redactorFor } from './audit/open.js';
import { adminRoutes } from './admin/routes.js';
import { adminDeps } from './app-admin.js';
import { pinStep } from './pins/step.js';
import { catalogSourceOf, knownNames } from './policy/known-names.js';
import { OperatorAttempts } from './auth/operator-attempts.js';
import { clientAddressOf } from './http/client-address.js';
import { CidrSet } from './http/cidr.js';
import { approvalsStep } from './approvals/step.js';
import { traceSteps } from './telemetry/steps.js';
import { traceAuth, traceHttp } from './telemetry/http.js';
import { credentialsStep } from './credentials/credentials.js';
import { connectionRoutes } from './credentials/routes.js';
import { connectionOptions } from './app-connections.js';
import { metricsRoute } from './app-metrics.js';
import { oauthRoutes } from './oauth/routes.js';

/**
 * MCP-level steps, outermost first:
 * 1. audit     — outermost, so it records what every later step decided (denials and failures
 *                too), and it writes the record before the response is released.
 * 1a. credentials — a call to an upstream with per-user credentials (upstreams.<name>.auth) needs
 *                the caller's own: else -32042 with the link that connects their account (oauth) or
 *                -32041. Before known names, so the first user of an upstream whose catalog nobody
 *                could list yet still gets the link; a call the policy refuses is left to the policy
 *                steps (no link to connect an account to an upstream the agent may not use).
 * 1b. known names — a tool/prompt name (or completion ref) not exactly in its upstream's catalog
 *                is refused as unknown: policies match exact strings, and an upstream that matches
 *                names case-insensitively or after Unicode normalisation would run a denied tool
 *                under a spelling no deny rule names. Before authorize, so policy judges real names.
 * 2. authorize — the agent's allow-list and argument constraints; cheap and decisive, before
 *                anything is spent.
 * 3. pins      — a tool whose definition changed since an operator approved it is refused
 *                (rug-pull defence); after authorize, so a denied agent learns nothing of pins.
 * 3b. approvals — a call an approval rule names waits for a person's yes (the agent's user by
 *                elicitation, or an operator on the admin page). After authorize and pins, so a call
 *                the policy refuses (or a held tool) never asks anyone; before limits, so a call that
 *                waits minutes for a person holds no concurrency slot and spends no budget until it runs.
 * 4. limits    — rate limits, token budgets, concurrency; only allowed calls consume them, and
 *                tool-result tokens are charged once the result is known.
 */
export function mcpSteps(
  gw: Pick<
    Gateway,
    | 'recorder'
    | 'limitsOptions'
    | 'pins'
    | 'upstreams'
    | 'approvals'
    | 'approvalStates'
    | 'policies'
    | 'tracing'
    | 'credentials'
    | 'config'
  >,
): McpStep[] {
  const upstreams = new Map(gw.upstreams.map((u) => [u.name, catalogSourceOf(u)]));
  const limits = gw.limitsOptions();
  // Tracing (src/telemetry/steps.ts), when on, adds the request span outside audit and the upstream
  // span inside limits, and gives each named step its own child span (consecutive names share one).
  // Off, this is exactly the list below. A plain step (no name) runs untimed.
  return traceSteps(
    gw.tracing,
    [
      ['audit', auditStep(gw.recorder)],
      ...(gw.credentials.enabled ? [['credentials', credentialsStep(gw.credentials)] as const] : []),
      ['policy', knownNames({ upstream: (server) => upstreams.get(server) })],
      ['policy', authorize()],
      ...(gw.pins ? [['policy', pinStep(gw.pins)] as const] : []),
      [
        'approvals',
        approvalsStep({
          service: gw.approvals,
          policies: () => gw.policies.current(),
          sealer: gw.approvalStates,
          // Judged again after a wait for a person (a reload or a changed tool while it waited).
          recheck: [authorize(), ...(gw.pins ? [pinStep(gw.pins)] : [])],
        }),
      ],
      ['limits', limitsStep(limits)],
    ],
    { upstreams: gw.upstreams, limitsStore: limits.store, redactUri: redactorFor(gw.config).text },
  );
}

export function buildApp(gw: Gateway): Hono<AppEnv> {
  const { config } = gw;
  const app = new Hono<AppEnv>();
  const mcp = streamableHttp({
    relay: gw.relay,
    sessions: gw.sessions,
    keepaliveMs: config.server.sseKeepaliveMs,
    replayEvents: config.server.sseReplayEvents,
    maxBodyBytes: config.server.maxBodyBytes,
    streams: gw.sseStreams,
    serverName: config.mcp.serverName,
    sharedSessions: config.sessions.shared,
  });
  const sse = legacySse({
    relay: gw.relay,
    sessions: gw.sessions,
    keepaliveMs: config.server.sseKeepaliveMs,
    messagesPath: '/messages',
    maxBodyBytes: config.server.maxBodyBytes,
    streams: gw.sseStreams,
  });

  // Liveness and readiness stay open: orchestrators probe them without credentials.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const r = gw.readiness();
    return c.json(r, r.ready ? 200 : 503);
  });
  // Operator routes get the same Host/Origin guard as agent routes: /metrics lists agent ids and
  // the admin page acts, so a rebinding page must not read or drive them through the browser.
  const guard = originGuard({
    allowedOrigins: config.server.allowedOrigins,
    allowedHosts: config.server.allowedHosts,
    publicUrl: config.server.publicUrl,
  });
  // Wrong admin and metrics tokens, counted per client address together (429 past the bound).
  const operatorAttempts = new OperatorAttempts({
    addressOf: clientAddressOf(new CidrSet(config.server.trustedProxies)),
  });
  // Metrics: their own credential, open when none is configured (src/app-metrics.ts).
  if (config.metrics.enabled) metricsRoute(app, gw, guard, operatorAttempts);
  // What a client should ask for (MCP 2025-11-25 clients request exactly these): Tollgate's own
  // scopes when it is the authorization server, and the scopes auth.jwt tokens must carry. In the
  // protected resource metadata and in the 401 challenge.
  const clientScopes = [...new Set([...(gw.oauth?.config.scopes ?? []), ...(config.auth.jwt?.requiredScopes ?? [])])];
  // Protected resource metadata is public by definition: clients read it to learn how to log in.
  const prm = protectedResourceMetadata({
    publicBase: config.server.publicUrl,
    // The same URL the JWT audience is (auth.resource, public_url or the address listened on).
    resource: () => gw.resource(),
    // Only Tollgate's own server knows `localhost` and 127.0.0.1 name one resource (another
    // authorization server would put the other name in the token's audience).
    loopbackAliases: gw.oauth?.resources.loopbackAliases === true,
    // Likewise only Tollgate's own server takes `<base>/sse` for the /mcp resource.
    sseResource: gw.oauth !== undefined,
    // With auth.oauth Tollgate is (the first of) its own authorization server(s).
    authorizationServers: () => [...(gw.oauth ? [gw.oauth.issuer()] : []), ...config.auth.authorizationServers],
    scopes: clientScopes,
  });
  // Open to every origin, preflight included: browser-based clients (MCP Inspector) read it from
  // their own origin, and it holds nothing but public metadata.
  const prmCors = cors({ origin: '*', allowMethods: ['GET', 'OPTIONS'], maxAge: 600 });
  for (const path of [
    '/.well-known/oauth-protected-resource',
    '/.well-known/oauth-protected-resource/mcp',
    '/.well-known/oauth-protected-resource/mcp/:server',
    '/.well-known/oauth-protected-resource/sse',
    '/.well-known/oauth-protected-resource/sse/:server',
  ]) {
    app.use(path, prmCors);
    app.get(path, prm);
  }

  // Tollgate's own authorization server (auth.oauth): metadata, login and consent pages, tokens.
  if (gw.oauth) app.route('/', oauthRoutes(gw.oauth));

  const agentRoutes = ['/mcp', '/mcp/:server', '/sse', '/sse/:server', '/messages', ...(gw.llm ? ['/v1/*'] : [])];
  for (const path of agentRoutes) {
    // 0. Request id and trace context — first, so every answer (rejections too) carries the id.
    app.use(path, requestContext());
    // 0b. Tracing (when on): arrival time and the agent's trace context, for the MCP request span.
    if (gw.tracing) app.use(path, traceHttp(gw.tracing));
    // 1. Host/Origin allow-list — DNS rebinding: reject forged browser requests before any work.
    app.use(
      path,
      originGuard({
        allowedOrigins: config.server.allowedOrigins,
        allowedHosts: config.server.allowedHosts,
        publicUrl: config.server.publicUrl,
      }),
    );
    // 1b. CORS for agents in a browser page, from the origins step 1 admitted: the preflight is
    // answered here (browsers send it without credentials), and answers expose Mcp-Session-Id and
    // WWW-Authenticate to the page.
    app.use(path, agentCors({ methods: ['GET', 'POST', 'DELETE'], maxAgeSeconds: 600 }));
    // 2. Body cap — before anything reads the body.
    app.use(
      path,
      bodyLimit({
        maxBytes: path.startsWith('/v1') && config.llm ? config.llm.maxBodyBytes : config.server.maxBodyBytes,
      }),
    );
    // 3. Authentication — every MCP request is made by a known agent.
    app.use(
      path,
      traceAuth(
        gw.tracing,
        authenticate({
          authenticators: gw.authenticators,
          allowAnonymous: config.auth.allowAnonymous,
          resourceMetadataUrl: (url) => metadataUrlFor(url, config.server.publicUrl),
          scopes: clientScopes,
          // A legacy SSE message is judged by the endpoint its stream was opened on.
          ...(path === '/messages' && { resourcePath: sse.resourcePath }),
        }),
      ),
    );
  }

  app.post('/mcp', mcp.post);
  app.get('/mcp', mcp.get);
  app.delete('/mcp', mcp.delete);
  app.all('/mcp', mcp.other);
  app.post('/mcp/:server', mcp.post);
  app.get('/mcp/:server', mcp.get);
  app.delete('/mcp/:server', mcp.delete);
  app.all('/mcp/:server', mcp.other);

  // The LLM API (issue 6): same agents, same credentials, same policies, limits and audit.
  if (gw.llm) app.route('/', gw.llm);

  app.get('/sse', sse.open);
  app.get('/sse/:server', sse.open);
  app.post('/messages', sse.message);

  // Upstream connections (oauth upstreams): the link an agent got starts a user's authorization.
  // With auth.oauth its users sign in to these pages (what they are given: src/app-connections.ts).
  const vault = gw.credentials.vault;
  if (vault && gw.credentials.oauthUpstreams().length > 0) {
    app.use('/connections', guard);
    app.use('/connections/*', guard);
    app.route('/connections', connectionRoutes(connectionOptions(gw, vault)));
  }

  if (config.admin.tokens.length + config.admin.tokenHashes.length > 0) {
    // The admin API and page: their own credential, the audit log, usage, upstream health; and with
    // auth.oauth, users signing in with their account to decide the approvals that name them.
    // What they are given from the gateway: src/app-admin.ts.
    app.use('/admin', guard);
    app.use('/admin/*', guard);
    app.route('/admin', adminRoutes({ ...adminDeps(gw), attempts: operatorAttempts }));
  }

  app.notFound((c) => errorResponse(c, 'method_not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    gw.log.error({ err }, 'unhandled error');
    return errorResponse(c, 'internal', 'internal gateway error');
  });
  return app;
}

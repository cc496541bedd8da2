// The Tollgate side of bench/llm.ts: its LLM routes (API-key auth, a token budget on a MemoryStore,
// a real audit log in a temp file) in front of the mock upstream, behind the /v1 fast lane as
// `tollgate serve` puts it (src/gateway-llm.ts: Host/Origin guard, body cap, authentication, then
// the call on node:http; a build from before the lane serves through Hono alone), run from the compiled build
// (.bench-build/, what production runs: plain JavaScript, no transpiler helpers per closure; another
// build with TOLLGATE_BUILD=<dir>, as bench/llm-ab.mjs does for before/after pairs).
//   node bench/llm-gateway.mjs <mock url> <api key>   # prints "GATEWAY_URL <url>"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import pino from 'pino';
// The build under test: .bench-build unless TOLLGATE_BUILD names another (relative to the repository).
const build = new URL(`../${process.env.TOLLGATE_BUILD ?? '.bench-build'}/`, import.meta.url);
const from = (path) => import(new URL(path, build).href);
const { authenticate } = await from('http/authenticate.js');
const { apiKeyAuthenticator } = await from('auth/api-keys.js');
const { PolicySet } = await from('policy/policy-set.js');
const { MemoryStore } = await from('limits/memory-store.js');
const { AuditRecorder } = await from('audit/step.js');
const { openAuditWriter } = await from('audit/writer.js');
const { llmConfigSchema, llmRoutes, toLlmRuntime } = await from('llm/index.js');
const { originCheck } = await from('http/origin-guard.js');
const lane = existsSync(new URL('llm/fast-lane.js', build)) ? (await from('llm/fast-lane.js')).llmFastLane : undefined;

const [mockUrl, key] = process.argv.slice(2);
if (!mockUrl || !key) {
  process.stderr.write('usage: node bench/llm-gateway.mjs <mock url> <api key>\n');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'tollgate-llm-bench-'));
mkdirSync(join(dir, 'policies'));
writeFileSync(
  join(dir, 'policies', 'bench.yaml'),
  'agent: bench\nmodels: { allow: ["*"] }\nlimits:\n  tokens: [{ limit: 1000000000000, per: 1d }]\n',
);
const policies = PolicySet.load(join(dir, 'policies'));
const recorder = new AuditRecorder(await openAuditWriter({ destination: { path: join(dir, 'audit.jsonl') } }), 'bench');
const config = toLlmRuntime(
  llmConfigSchema.parse({
    upstreams: { mock: { kind: 'openai', base_url: `${mockUrl}/v1`, api_key: 'sk-mock', models: ['gpt-4o-mini'] } },
  }),
);
const authenticators = [apiKeyAuthenticator({ inline: [{ agent: 'bench', key }], policies: () => policies })];
const app = new Hono();
app.use('/v1/*', authenticate({ authenticators, allowAnonymous: false, resourceMetadataUrl: () => '' }));
const routes = llmRoutes({
  config,
  store: new MemoryStore(),
  policies: () => policies,
  recorder,
  log: pino({ level: 'warn' }),
});
app.route('/', routes);
const hono = getRequestListener(app.fetch, { hostname: '127.0.0.1' });
const listener = lane
  ? lane(
      {
        proxy: routes.proxy,
        originProblem: originCheck({}),
        maxBodyBytes: config.maxBodyBytes,
        authenticators,
        allowAnonymous: false,
        onError: (err) => console.error(err),
      },
      hono,
    )
  : hono;
const server = createServer(listener);
server.listen(0, '127.0.0.1', () => console.log(`GATEWAY_URL http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});

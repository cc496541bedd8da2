// The Prometheus endpoint: its own credential (never an agent key, compared in constant time and
// counted with the admin token's guesses), open when no token is configured; behind the Host/Origin
// guard like every route that lists agents. Separate so app.ts keeps to the pipeline's order.
import type { Hono, MiddlewareHandler } from 'hono';
import type { AppEnv } from './http/env.js';
import type { Gateway } from './gateway.js';
import type { OperatorAttempts } from './auth/operator-attempts.js';
import { bearerOf, operatorTokens } from './auth/operator-tokens.js';
import { headerOf } from './http/node-io.js';

export function metricsRoute(
  app: Hono<AppEnv>,
  gw: Pick<Gateway, 'config' | 'metrics'>,
  guard: MiddlewareHandler,
  attempts: OperatorAttempts,
): void {
  const configured = gw.config.metrics.token;
  const token = configured === undefined ? undefined : operatorTokens([configured]);
  app.use('/metrics', guard);
  app.get('/metrics', async (c) => {
    if (token !== undefined) {
      const refused = attempts.refused(c);
      if (refused) return refused;
      const presented = bearerOf(headerOf(c, 'authorization'));
      if (token.match(presented) < 0) {
        if (presented) attempts.failed(c); // no token is no guess (a scraper not set up yet)
        return c.text('metrics token required\n', 401, { 'www-authenticate': 'Bearer realm="tollgate-metrics"' });
      }
    }
    return c.body(await gw.metrics.registry.metrics(), 200, { 'content-type': gw.metrics.registry.contentType });
  });
}

// All of the authorization server's routes on one Hono app, mounted at the gateway's root.
import { Hono } from 'hono';
import type { OAuthServer } from './server.js';
import { authorizeRoutes } from './authorize-routes.js';
import { tokenRoutes } from './token-routes.js';

export function oauthRoutes(as: OAuthServer): Hono {
  const app = new Hono();
  tokenRoutes(app, as);
  authorizeRoutes(app, as);
  return app;
}

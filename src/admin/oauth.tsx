// OAuth on the admin API and page (auth.oauth): the grants users gave clients, and the registered
// clients, each with a Revoke button (a plain form POST, CSRF-checked by Origin like every admin POST).
// Revoking a grant ends its refresh token and every access token it issued at their next use;
// removing a client also revokes its grants.
import type { Hono, MiddlewareHandler } from 'hono';

export interface AdminOAuthGrant {
  gid: string;
  sub: string;
  clientId: string;
  resource: string;
  scope: string;
  createdAt: number;
  refreshedAt: number;
}

export interface AdminOAuthClient {
  client_id: string;
  client_name?: string | undefined;
  redirect_uris: string[];
  client_id_issued_at?: number | undefined;
}

export interface AdminOAuth {
  grants(): Promise<AdminOAuthGrant[]>;
  clients(): Promise<AdminOAuthClient[]>;
  revokeGrant(gid: string): Promise<boolean>;
  /** Removes a registered client and revokes its grants. */
  removeClient(clientId: string): Promise<boolean>;
}

export function mountOAuthRoutes(
  api: Hono,
  oauth: AdminOAuth,
  mw: { apiAuth: MiddlewareHandler; csrf: MiddlewareHandler },
): void {
  api.get('/oauth/grants', mw.apiAuth, async (c) => c.json({ grants: await oauth.grants() }));
  api.get('/oauth/clients', mw.apiAuth, async (c) => c.json({ clients: await oauth.clients() }));
  const form = (c: { req: { header(n: string): string | undefined } }) =>
    (c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded');
  api.post('/oauth/grants/:gid/revoke', mw.csrf, mw.apiAuth, async (c) => {
    const ok = await oauth.revokeGrant(c.req.param('gid'));
    if (form(c)) return c.redirect('/admin/#oauth', 303);
    return c.json({ revoked: ok }, ok ? 200 : 404);
  });
  api.post('/oauth/clients/:id/revoke', mw.csrf, mw.apiAuth, async (c) => {
    const ok = await oauth.removeClient(c.req.param('id'));
    if (form(c)) return c.redirect('/admin/#oauth', 303);
    return c.json({ removed: ok }, ok ? 200 : 404);
  });
}

const when = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString().slice(0, 16));

function Revoke(props: { action: string; label: string }) {
  return (
    <form method="post" action={props.action} style="margin:0">
      <button type="submit" class="btn">
        {props.label}
      </button>
    </form>
  );
}

export function OAuthSection(props: { grants: AdminOAuthGrant[]; clients: AdminOAuthClient[] }) {
  return (
    <section class="card" id="oauth" aria-labelledby="h-oauth">
      <div class="card-head">
        <h2 id="h-oauth">OAuth</h2>
        <span class="muted">
          {props.grants.length} grants · {props.clients.length} registered clients
        </span>
      </div>
      <table class="tbl" id="oauth-grants">
        <thead>
          <tr>
            <th>User</th>
            <th>Client</th>
            <th>Resource</th>
            <th>Since</th>
            <th>Last refresh</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.grants.map((g) => (
            <tr data-grant={g.gid}>
              <td>{g.sub}</td>
              <td>
                <code>{g.clientId}</code>
              </td>
              <td>{g.resource}</td>
              <td>{when(g.createdAt)}</td>
              <td>{when(g.refreshedAt)}</td>
              <td>
                <Revoke action={`/admin/oauth/grants/${encodeURIComponent(g.gid)}/revoke`} label="Revoke" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <table class="tbl" id="oauth-clients">
        <thead>
          <tr>
            <th>Client</th>
            <th>Name</th>
            <th>Redirect URIs</th>
            <th>Registered</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.clients.map((cl) => (
            <tr data-client={cl.client_id}>
              <td>
                <code>{cl.client_id}</code>
              </td>
              <td>{cl.client_name ?? ''}</td>
              <td>{cl.redirect_uris.join(' ')}</td>
              <td>{when(cl.client_id_issued_at === undefined ? undefined : cl.client_id_issued_at * 1000)}</td>
              <td>
                <Revoke action={`/admin/oauth/clients/${encodeURIComponent(cl.client_id)}/revoke`} label="Remove" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

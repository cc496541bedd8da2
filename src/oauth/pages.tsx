// The login, consent and error pages of the authorization server: plain server-rendered HTML (hono/jsx
// escapes every value), no script, framing refused (clickjacking a consent button).
import type { Child } from 'hono/jsx';

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;background:#f4f5f7;color:#1d2430;margin:0}
main{max-width:420px;margin:8vh auto;background:#fff;border-radius:10px;padding:28px 32px;box-shadow:0 2px 12px #0002}
h1{font-size:20px;margin:0 0 16px}label{display:block;margin:12px 0 4px;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #bbb;border-radius:6px}
button{margin-top:18px;padding:9px 18px;border:0;border-radius:6px;background:#2456d3;color:#fff;font-weight:600;cursor:pointer}
a.button{display:inline-block;padding:9px 18px;border-radius:6px;background:#1d2430;color:#fff;text-decoration:none;font-weight:600}
button.secondary{background:#e3e6ec;color:#1d2430;margin-left:8px}.err{color:#b3261e;margin:8px 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px}dt{font-weight:600}dd{margin:0;word-break:break-all}
.client{display:flex;gap:12px;align-items:center}.client img{width:40px;height:40px;border-radius:6px}`;

function Layout(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{props.title} · Tollgate</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

export interface LoginPageProps {
  txn: string;
  csrf: string;
  clientName: string;
  error?: string | undefined;
  username?: string | undefined;
  /** When a company identity provider is configured: its button's name. */
  oidcName?: string | undefined;
}

export function LoginPage(p: LoginPageProps) {
  return (
    <Layout title="Log in">
      <h1>Log in to Tollgate</h1>
      <p>
        <b>{p.clientName}</b> wants to use this gateway on your behalf.
      </p>
      {p.error ? (
        <p class="err" id="error">
          {p.error}
        </p>
      ) : null}
      {p.oidcName ? (
        <p>
          <a id="oidc" class="button" href={`/authorize/oidc?txn=${encodeURIComponent(p.txn)}`}>
            Log in with {p.oidcName}
          </a>
        </p>
      ) : null}
      <form method="post" action="/authorize/login">
        <input type="hidden" name="txn" value={p.txn} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <label for="username">User name</label>
        <input type="text" id="username" name="username" autocomplete="username" value={p.username ?? ''} required />
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required />
        <button type="submit" id="login">
          Log in
        </button>
      </form>
    </Layout>
  );
}

export interface ConsentPageProps {
  txn: string;
  csrf: string;
  user: string;
  clientId: string;
  clientName: string;
  clientUri: string | undefined;
  logoUri: string | undefined;
  redirectHost: string;
  resource: string;
  scopes: readonly string[];
}

export function ConsentPage(p: ConsentPageProps) {
  return (
    <Layout title="Allow access">
      <div class="client">
        {p.logoUri ? <img src={p.logoUri} alt="" /> : null}
        <h1 id="client-name">{p.clientName}</h1>
      </div>
      <p>
        wants to act as <b id="user">{p.user}</b> on this gateway.
      </p>
      <dl>
        <dt>Client</dt>
        <dd id="client-id">{p.clientUri ? <a href={p.clientUri}>{p.clientId}</a> : p.clientId}</dd>
        <dt>Returns to</dt>
        <dd id="redirect-host">{p.redirectHost}</dd>
        <dt>Resource</dt>
        <dd id="resource">{p.resource}</dd>
        <dt>Scopes</dt>
        <dd id="scopes">{p.scopes.join(' ') || '(none)'}</dd>
      </dl>
      <form method="post" action="/authorize/consent">
        <input type="hidden" name="txn" value={p.txn} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <button type="submit" name="decision" value="allow" id="allow">
          Allow
        </button>
        <button type="submit" name="decision" value="deny" id="deny" class="secondary">
          Deny
        </button>
      </form>
    </Layout>
  );
}

export function ErrorPage(p: { error: string; description: string }) {
  return (
    <Layout title="Authorization failed">
      <h1>Authorization failed</h1>
      <p class="err">
        <code id="error">{p.error}</code>: <span id="error-description">{p.description}</span>
      </p>
      <p>Return to the application and try again.</p>
    </Layout>
  );
}

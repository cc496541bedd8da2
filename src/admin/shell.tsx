// The admin pages' frame and the two small pages besides the operator's: the login page (admin token,
// or the account link that starts the OAuth sign-in) and the approver's page (what a user signed in
// with their account sees: the approvals they may decide, nothing else).
import type { ApproverIdentity } from '../approvals/approver.js';
import { CSS } from './styles.js';

export function Shell(props: { title: string; children?: unknown; bodyClass?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <title>{props.title}</title>
        <link rel="icon" href="data:," />
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body class={props.bodyClass}>{props.children}</body>
    </html>
  );
}

export const Logo = () => <span class="logo" aria-hidden="true" />;

/** The header's sign-out button (admin token or user session alike). */
export const SignOut = () => (
  <form method="post" action="/admin/logout">
    <button type="submit" class="btn dark">
      Sign out
    </button>
  </form>
);

/** Where the account link leads (user-signin.tsx). */
export const SIGN_IN_PATH = '/admin/oauth/start';

export function LoginPage(props: { error?: string; accounts?: boolean }) {
  return (
    <Shell title="Sign in · Tollgate admin" bodyClass="login">
      <main class="login-card">
        <div class="brand">
          <Logo /> Tollgate <span class="brand-sub">admin</span>
        </div>
        <p class="muted">Sign in with an admin token (agent keys do not work here).</p>
        {props.error && (
          <p class="alert" role="alert">
            {props.error}
          </p>
        )}
        <form method="post" action="/admin/login">
          <label>
            <span>Admin token</span>
            <input type="password" name="token" autocomplete="current-password" required autofocus />
          </label>
          <button type="submit" class="btn primary wide">
            Sign in
          </button>
        </form>
        {props.accounts && (
          <p>
            <a class="btn wide" id="account-sign-in" href={SIGN_IN_PATH}>
              Sign in with your account
            </a>
            <span class="muted small">to decide the approvals that name you or your groups</span>
          </p>
        )}
      </main>
    </Shell>
  );
}

/** A user's admin page: the approvals section only (the list and decisions are filtered server-side). */
export function ApproverPage(props: { name: string; who: ApproverIdentity; approvals: unknown }) {
  return (
    <Shell title={`${props.name} · approvals`}>
      <header class="top">
        <div class="brand">
          <Logo /> {props.name} <span class="brand-sub">approvals</span>
        </div>
        <div class="top-actions">
          <span class="muted" id="signed-in-as">
            user:{props.who.id}
            {props.who.groups.length > 0 ? ` (${props.who.groups.join(', ')})` : ''}
          </span>
          <SignOut />
        </div>
      </header>
      <main class="wrap">{props.approvals}</main>
    </Shell>
  );
}

/**
 * After the sign-in, a page that moves on by itself: the session cookie is SameSite=Strict, and a
 * browser coming back from a company IdP is on a redirect chain that started on another site, where
 * a 303 to /admin/ would arrive without it. A navigation this page starts (its `Refresh` header,
 * or the link) is same-site.
 */
export function SignedInPage() {
  return (
    <Shell title="Signed in · Tollgate admin" bodyClass="login">
      <main class="login-card">
        <p>
          Signed in. <a href="/admin/">Continue to the approvals</a>.
        </p>
      </main>
    </Shell>
  );
}

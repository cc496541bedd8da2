// The admin page's "Upstream connections" section: which users connected which upstream (per-user
// credentials, src/credentials/) and since when. Never a token: the vault lists names only.
export interface ConnectionRow {
  upstream: string;
  agent: string;
  connectedAt: number;
}

export function ConnectionsSection(props: { rows: ConnectionRow[]; error?: string }) {
  return (
    <section class="card" aria-labelledby="h-connections" id="connections">
      <div class="card-head">
        <h2 id="h-connections">Upstream connections</h2>
        <span class="muted">{props.rows.length} connected</span>
      </div>
      {props.error && <p class="muted">{props.error}</p>}
      {props.rows.length === 0 ? (
        <p class="muted">No user has connected an upstream account.</p>
      ) : (
        <table class="connections">
          <thead>
            <tr>
              <th>Upstream</th>
              <th>User</th>
              <th>Connected</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr class="connection">
                <td>{r.upstream}</td>
                <td>{r.agent}</td>
                <td>{new Date(r.connectedAt).toISOString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

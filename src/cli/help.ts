export const HELP = `tollgate — an MCP gateway for AI agents

Usage:
  tollgate serve [--config PATH] [--host H] [--port P]   run the gateway
  tollgate check [--config PATH] [--connect]             validate the config and policies; exit 1 on errors
                                                         (and when this user cannot write the audit log or OAuth store)
                                                         (--connect: also start the upstreams, warn about each it cannot
                                                         reach, match patterns against their names and flag tool
                                                         descriptions with injection markers)
  tollgate key new [--agent NAME]                        make an API key and the hash for its policy file
  tollgate user add NAME [--groups a,b] < password       hash a local user's password for auth.oauth.users
  tollgate audit [FILE|DIR | -c PATH] [filters] [--follow] [--json]   review the audit log (tollgate audit --help)
  tollgate audit stats [FILE|DIR] [filters] [--json]     counts, tokens and latency per agent/tool/decision
  tollgate audit verify [FILE|DIR] [--partial]           check the hash chain; exit 1 at the first broken link
                       [--public-key PUB] [--anchor F]   and the signed checkpoints (exit 3: unsigned records)
  tollgate audit [stats|verify] --postgres URL [--table T]   the fleet's records in PostgreSQL
  tollgate audit keygen [--out FILE]                     an Ed25519 key pair for signed audit checkpoints
  tollgate pins list [--config PATH | --file PATH] [--json]   pinned tools and changes waiting for approval
  tollgate pins diff [SERVER[/TOOL]]                     old vs new definition of each pending change
  tollgate pins approve SERVER[/TOOL]… | --all           approve pending definitions (a running gateway applies it)
  tollgate --help | --version

Options:
  -c, --config PATH   config file (default ./tollgate.yaml; env TOLLGATE_CONFIG)
      --host H        listen address (overrides server.host)
  -p, --port P        listen port (overrides server.port; 0 picks a free port)

Environment:
  TOLLGATE_CONFIG     config file when --config is not given
  TOLLGATE_AUDIT_FILE audit log file (overrides audit.file; default path for tollgate audit)
  TOLLGATE_PINS_FILE  tool pin file (overrides pins.file)
  Any \${VAR} or \${VAR:-default} in the config is read from the environment.
`;

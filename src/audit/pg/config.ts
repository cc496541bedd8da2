// Config of the fleet audit store (`audit.postgres`) and audit retention (`audit.retention`,
// `audit.retention_files`): zod schemas (snake_case, YAML) and their frozen runtime form.
import { z } from 'zod';

/** A table name, optionally schema-qualified: lower-case identifiers only (never quoted input). */
const TABLE = /^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/;

export const ageSchema = z
  .string()
  .regex(/^\d+(m|h|d|w)$/, 'a whole number with a unit: 30m, 12h, 90d, 8w')
  .describe('e.g. "90d"');

export const auditPostgresSchema = z
  .object({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
      .describe('connection URL, usually ${ENV}; every instance of the fleet writes to the same table'),
    table: z.string().regex(TABLE, 'lower-case letters, digits and _ (schema.table allowed)').default('tollgate_audit'),
    batch: z.number().int().min(1).max(5000).default(500).describe('rows per INSERT when shipping the spool'),
    mode: z
      .enum(['spool', 'fail_closed'])
      .default('spool')
      .describe('PostgreSQL unreachable: keep serving (records wait in the spool) or refuse tool calls'),
    chain_id: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/)
      .optional()
      .describe(
        "this instance's chain in the table; default server.instance_id when set, else an id kept beside the spool",
      ),
  })
  .strict()
  .describe('records also go to PostgreSQL (audit.file is the local spool)');

export type AuditPostgresInput = z.infer<typeof auditPostgresSchema>;

export interface AuditPostgresConfig {
  url: string;
  table: string;
  batch: number;
  mode: 'spool' | 'fail_closed';
  chainId: string | undefined;
}

const AGE_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function ageToMs(age: string): number {
  const m = /^(\d+)(m|h|d|w)$/.exec(age);
  if (!m) throw new Error(`bad age ${age}`);
  return Number(m[1]) * AGE_UNITS[m[2]!]!;
}

export function toPostgresConfig(
  p: AuditPostgresInput | undefined,
  instanceId: string | undefined,
): AuditPostgresConfig | undefined {
  if (!p) return undefined;
  return { url: p.url, table: p.table, batch: p.batch, mode: p.mode, chainId: p.chain_id ?? instanceId };
}

/** audit.postgres needs a spool: audit.file set and not stdout. */
export function checkAuditSpool(
  a: { postgres?: unknown; file: string | null; stdout: boolean },
  ctx: z.RefinementCtx,
): void {
  if (a.postgres !== undefined && (a.file === null || a.stdout))
    ctx.addIssue({
      code: 'custom',
      path: ['postgres'],
      message:
        'audit.postgres needs audit.file (the local spool every record is written to before PostgreSQL), and audit.stdout off',
    });
}

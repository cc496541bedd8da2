// The JSON Schemas published for editors (schema/*.schema.json), derived from the zod schema
// so the two cannot drift; a test fails when the committed file is stale.
import { z } from 'zod';
import { configSchema } from './schema.js';
import { policyFileSchema } from '../policy/schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://tollgate.dev/schema/tollgate.schema.json',
    title: 'Tollgate gateway configuration',
  };
}

export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policyFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://tollgate.dev/schema/policy.schema.json',
    title: 'Tollgate policy file (one agent or group)',
  };
}

export const renderJsonSchema = (): string => `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
export const renderPolicyJsonSchema = (): string => `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;

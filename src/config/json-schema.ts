// The JSON Schema published for editors (schema/tollgate.schema.json), derived from the zod schema
// so the two cannot drift; a test fails when the committed file is stale.
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://tollgate.dev/schema/tollgate.schema.json',
    title: 'Tollgate gateway configuration',
  };
}

export const renderJsonSchema = (): string => `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

// npm run schema: regenerates schema/*.schema.json from the zod schemas.
import { writeFileSync } from 'node:fs';
import { renderJsonSchema, renderPolicyJsonSchema } from '../src/config/json-schema.js';

writeFileSync(new URL('../schema/tollgate.schema.json', import.meta.url), renderJsonSchema());
writeFileSync(new URL('../schema/policy.schema.json', import.meta.url), renderPolicyJsonSchema());
console.log('wrote schema/tollgate.schema.json and schema/policy.schema.json');
